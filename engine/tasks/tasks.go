// Package tasks carries Sluice's work on asynq: task types, their payloads
// (a row id, nothing more), the engine.Queue that enqueues them and the
// handlers that run them. The database row is the truth; a task only says
// "look at row X now".
package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeStepRun         = "step:run"
	TypeDeliveryAttempt = "delivery:attempt"
)

// QueueName is the asynq queue Sluice uses.
const QueueName = "sluice"

// Payload is the body of every task: the id of the row to look at, or for
// a step:run task the ids of the steps that became due together.
type Payload struct {
	ID  string   `json:"id,omitempty"`
	IDs []string `json:"ids,omitempty"`
}

// ids returns every id the payload names.
func (p Payload) ids() []string {
	if p.ID == "" {
		return p.IDs
	}
	return append(slices.Clip(p.IDs), p.ID)
}

// Queue enqueues tasks; it implements engine.Queue. Task ids are derived
// from rows (a step, a delivery's attempt time), so enqueueing a task that
// asynq still holds is a no-op: the sweeper can re-enqueue freely.
type Queue struct {
	client *asynq.Client
}

// NewQueue returns a Queue on client.
func NewQueue(client *asynq.Client) *Queue { return &Queue{client: client} }

// EnqueueSteps asks for steps to run at at (now if at is past), in one
// task: one dequeue and one acknowledgement for the group instead of one
// per step. A single step's task id is its own, so the sweeper's
// re-enqueue of it is dropped while asynq holds it; a group's is its first
// step's, and a step swept while its group waits runs twice at most, which
// the handler tolerates.
func (q *Queue) EnqueueSteps(ctx context.Context, stepIDs []string, at time.Time) error {
	switch len(stepIDs) {
	case 0:
		return nil
	case 1:
		return q.enqueue(ctx, TypeStepRun, Payload{ID: stepIDs[0]}, "step:"+stepIDs[0], at, taskTimeout)
	}
	// A group's steps wait their turn for the process's step slots; its
	// deadline must not cut them (and the sends in flight) short.
	return q.enqueue(ctx, TypeStepRun, Payload{IDs: stepIDs}, "steps:"+stepIDs[0], at, taskTimeout*time.Duration(len(stepIDs)))
}

// taskTimeout is the deadline of a task of one row: far above the longest
// webhook timeout (60 s), it only catches a handler that hangs.
const taskTimeout = 2 * time.Minute

// EnqueueDelivery asks for a delivery's next attempt at at.
func (q *Queue) EnqueueDelivery(ctx context.Context, deliveryID string, at time.Time) error {
	return q.enqueue(ctx, TypeDeliveryAttempt, Payload{ID: deliveryID}, "delivery:"+deliveryID+":"+strconv.FormatInt(at.UnixMilli(), 10), at, taskTimeout)
}

func (q *Queue) enqueue(ctx context.Context, typ string, p Payload, taskID string, at time.Time, timeout time.Duration) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return err
	}
	opts := []asynq.Option{asynq.Queue(QueueName), asynq.TaskID(taskID), asynq.MaxRetry(100), asynq.Timeout(timeout)}
	if time.Until(at) > 0 {
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(typ, payload), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s %s: %w", typ, taskID, err)
	}
	return nil
}

// HeldSteps returns the ids of the steps that the tasks being run now (by
// any worker) hold. A step waits its turn inside its group's task, so the
// sweeper must leave these alone however overdue they are, or it would
// have them sent twice. A worker that died holds its tasks until asynq's
// lease on them runs out; asynq then hands them to another worker.
func HeldSteps(ins *asynq.Inspector) (map[string]bool, error) {
	const size = 500
	held := map[string]bool{}
	for page := 1; ; page++ {
		ts, err := ins.ListActiveTasks(QueueName, asynq.Page(page), asynq.PageSize(size))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return held, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list active tasks: %w", err)
		}
		for _, t := range ts {
			var p Payload
			if t.Type != TypeStepRun || json.Unmarshal(t.Payload, &p) != nil {
				continue
			}
			for _, id := range p.ids() {
				held[id] = true
			}
		}
		if len(ts) < size {
			delete(held, "")
			return held, nil
		}
	}
}

// Runner is what the handlers call: the engine.
type Runner interface {
	RunSteps(ctx context.Context, stepIDs []string) error
	AttemptDelivery(ctx context.Context, deliveryID string) error
}

// NewMux returns the asynq handlers of every task type.
func NewMux(r Runner) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeStepRun, handle(true, r.RunSteps))
	mux.HandleFunc(TypeDeliveryAttempt, handle(false, func(ctx context.Context, ids []string) error {
		return r.AttemptDelivery(ctx, ids[0])
	}))
	return mux
}

// handle decodes a task's ids (several only where group is set) and calls fn.
func handle(group bool, fn func(context.Context, []string) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p Payload
		err := json.Unmarshal(t.Payload(), &p)
		ids := p.ids()
		if err != nil || len(ids) == 0 || (!group && len(ids) > 1) || slices.Contains(ids, "") {
			return fmt.Errorf("task %s: bad payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
		}
		return fn(ctx, ids)
	}
}

// RetryDelay spaces asynq's own retries, which only happen when a handler
// failed on infrastructure (database down): 1 s doubling to at most 1 min.
// Webhook retries are not asynq retries; they are rows with a next attempt time.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 6)
	return min(d, time.Minute)
}
