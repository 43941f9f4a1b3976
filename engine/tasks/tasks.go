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

// Payload is the body of every task: the id of the row to look at.
type Payload struct {
	ID string `json:"id"`
}

// Queue enqueues tasks; it implements engine.Queue. Task ids are derived
// from rows (a step, a delivery's attempt time), so enqueueing a task that
// asynq still holds is a no-op: the sweeper can re-enqueue freely.
type Queue struct {
	client *asynq.Client
}

// NewQueue returns a Queue on client.
func NewQueue(client *asynq.Client) *Queue { return &Queue{client: client} }

// EnqueueStep asks for a step to run at at (now if at is past).
func (q *Queue) EnqueueStep(ctx context.Context, stepID string, at time.Time) error {
	return q.enqueue(ctx, TypeStepRun, stepID, "step:"+stepID, at)
}

// EnqueueDelivery asks for a delivery's next attempt at at.
func (q *Queue) EnqueueDelivery(ctx context.Context, deliveryID string, at time.Time) error {
	return q.enqueue(ctx, TypeDeliveryAttempt, deliveryID, "delivery:"+deliveryID+":"+strconv.FormatInt(at.UnixMilli(), 10), at)
}

func (q *Queue) enqueue(ctx context.Context, typ, id, taskID string, at time.Time) error {
	payload, err := json.Marshal(Payload{ID: id})
	if err != nil {
		return err
	}
	opts := []asynq.Option{asynq.Queue(QueueName), asynq.TaskID(taskID), asynq.MaxRetry(100), asynq.Timeout(2 * time.Minute)}
	if time.Until(at) > 0 {
		opts = append(opts, asynq.ProcessAt(at))
	}
	_, err = q.client.EnqueueContext(ctx, asynq.NewTask(typ, payload), opts...)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("enqueue %s %s: %w", typ, id, err)
	}
	return nil
}

// Runner is what the handlers call: the engine.
type Runner interface {
	RunStep(ctx context.Context, stepID string) error
	AttemptDelivery(ctx context.Context, deliveryID string) error
}

// NewMux returns the asynq handlers of every task type.
func NewMux(r Runner) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeStepRun, handle(r.RunStep))
	mux.HandleFunc(TypeDeliveryAttempt, handle(r.AttemptDelivery))
	return mux
}

func handle(fn func(context.Context, string) error) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p Payload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.ID == "" {
			return fmt.Errorf("task %s: bad payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
		}
		return fn(ctx, p.ID)
	}
}

// RetryDelay spaces asynq's own retries, which only happen when a handler
// failed on infrastructure (database down): 1 s doubling to at most 1 min.
// Webhook retries are not asynq retries; they are rows with a next attempt time.
func RetryDelay(n int, _ error, _ *asynq.Task) time.Duration {
	d := time.Second << min(n, 6)
	return min(d, time.Minute)
}
