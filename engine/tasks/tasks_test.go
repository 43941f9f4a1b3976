package tasks_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/sluicehq/sluice/engine/tasks"
)

// runner records what the handlers were asked to do.
type runner struct {
	mu    sync.Mutex
	steps []string
	dels  []string
}

func (r *runner) RunSteps(_ context.Context, ids []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, ids...)
	return nil
}

func (r *runner) AttemptDelivery(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dels = append(r.dels, id)
	return nil
}

// newQueue returns a Queue and an Inspector on a fresh in-memory Redis.
func newQueue(t *testing.T) (asynq.RedisClientOpt, *tasks.Queue, *asynq.Inspector) {
	m := miniredis.RunT(t)
	opt := asynq.RedisClientOpt{Addr: m.Addr()}
	client := asynq.NewClient(opt)
	t.Cleanup(func() { client.Close() })
	ins := asynq.NewInspector(opt)
	t.Cleanup(func() { ins.Close() })
	return opt, tasks.NewQueue(client), ins
}

// TestQueueDropsDuplicates: re-enqueueing a step asynq still holds is a
// no-op (the sweeper relies on it); a delivery's next attempt at another
// time is a new task.
func TestQueueDropsDuplicates(t *testing.T) {
	t.Parallel()
	_, q, ins := newQueue(t)
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < 3; i++ {
		if err := q.EnqueueSteps(ctx, []string{"stp_1"}, now); err != nil {
			t.Fatal(err)
		}
		if err := q.EnqueueSteps(ctx, []string{"stp_2", "stp_3"}, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.EnqueueDelivery(ctx, "dlv_1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueDelivery(ctx, "dlv_1", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := q.EnqueueDelivery(ctx, "dlv_1", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	info, err := ins.GetQueueInfo(tasks.QueueName)
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 2 || info.Scheduled != 2 {
		t.Errorf("pending %d scheduled %d, want 2 and 2", info.Pending, info.Scheduled)
	}
	// A group's deadline grows with its steps, which wait their turn.
	for id, want := range map[string]time.Duration{"step:stp_1": 2 * time.Minute, "steps:stp_2": 4 * time.Minute} {
		ti, err := ins.GetTaskInfo(tasks.QueueName, id)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Timeout != want {
			t.Errorf("task %s: timeout %s, want %s", id, ti.Timeout, want)
		}
	}
}

// TestHandlers: each task type reaches its runner method with the row
// ids (several for a group of steps); a payload that cannot be decoded, or
// a group where one id is expected, is not retried.
func TestHandlers(t *testing.T) {
	t.Parallel()
	r := &runner{}
	mux := tasks.NewMux(r)
	ctx := context.Background()
	if err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeStepRun, []byte(`{"id":"stp_9"}`))); err != nil {
		t.Fatal(err)
	}
	if err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeDeliveryAttempt, []byte(`{"id":"dlv_9"}`))); err != nil {
		t.Fatal(err)
	}
	if err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeStepRun, []byte(`{"ids":["stp_10","stp_11"]}`))); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.steps, []string{"stp_9", "stp_10", "stp_11"}) || !slices.Equal(r.dels, []string{"dlv_9"}) {
		t.Errorf("steps %v deliveries %v", r.steps, r.dels)
	}
	for _, bad := range []string{`{`, `{}`, `{"id":""}`, `{"ids":[]}`, `{"ids":["stp_1",""]}`} {
		err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeStepRun, []byte(bad)))
		if !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("payload %s: %v, want SkipRetry", bad, err)
		}
	}
	err := mux.ProcessTask(ctx, asynq.NewTask(tasks.TypeDeliveryAttempt, []byte(`{"ids":["dlv_1","dlv_2"]}`)))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Errorf("delivery task with two ids: %v, want SkipRetry", err)
	}
}

// TestRetryDelay grows from 1 s and stops at a minute.
func TestRetryDelay(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{0: time.Second, 1: 2 * time.Second, 5: 32 * time.Second, 6: time.Minute, 50: time.Minute} {
		if got := tasks.RetryDelay(n, nil, nil); got != want {
			t.Errorf("RetryDelay(%d) = %s, want %s", n, got, want)
		}
	}
}

// blocking runs steps until released, telling when it has started.
type blocking struct {
	runner
	started chan struct{}
	release chan struct{}
}

func (b *blocking) RunSteps(ctx context.Context, ids []string) error {
	b.started <- struct{}{}
	<-b.release
	return b.runner.RunSteps(ctx, ids)
}

// TestHeldSteps: the steps of a task being run are held; those of a task
// still waiting in the queue are not; with no queue yet, none are.
func TestHeldSteps(t *testing.T) {
	t.Parallel()
	opt, q, ins := newQueue(t)
	if held, err := tasks.HeldSteps(ins); err != nil || len(held) != 0 {
		t.Fatalf("no queue yet: %v, %v", held, err)
	}
	ctx := context.Background()
	if err := q.EnqueueSteps(ctx, []string{"stp_a", "stp_b"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	b := &blocking{started: make(chan struct{}, 2), release: make(chan struct{})}
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 1, Queues: map[string]int{tasks.QueueName: 1},
		LogLevel: asynq.FatalLevel})
	if err := srv.Start(tasks.NewMux(b)); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case <-b.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the task never started")
	}
	if err := q.EnqueueSteps(ctx, []string{"stp_c"}, time.Now()); err != nil { // waits: concurrency 1
		t.Fatal(err)
	}
	held, err := tasks.HeldSteps(ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 2 || !held["stp_a"] || !held["stp_b"] {
		t.Errorf("held %v, want stp_a and stp_b", held)
	}
	close(b.release)
}
