package app_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/cmd/sluice/app"
	"github.com/sluicehq/sluice/engine/tasks"
)

// dequeueCounter counts the dequeues asynq sends to Redis (its script on
// the queue's pending and paused lists).
type dequeueCounter struct{ n *atomic.Int64 }

func (c dequeueCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c dequeueCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (c dequeueCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if args := cmd.Args(); len(args) > 4 && args[3] == "asynq:{"+tasks.QueueName+"}:pending" &&
			args[4] == "asynq:{"+tasks.QueueName+"}:paused" {
			c.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

// wakeRig is an asynq server on a real Redis whose client has a waker,
// with a handler that reports each task's payload.
type wakeRig struct {
	rdb      *redis.Client
	waker    *app.Waker
	dequeues atomic.Int64
	handled  chan string
}

func newWakeRig(t *testing.T, wait time.Duration) *wakeRig {
	t.Helper()
	// The forward of due retries, which ends a wait when it moves a task,
	// comes after the tests' 10 s.
	return newWakeRigForwarding(t, wait, time.Minute)
}

// newWakeRigForwarding is newWakeRig with asynq forwarding due tasks every
// forward.
func newWakeRigForwarding(t *testing.T, wait, forward time.Duration) *wakeRig {
	t.Helper()
	return newWakeRigLeft(t, wait, forward, nil)
}

// newWakeRigLeft is newWakeRigForwarding with tasks (their payloads) in the
// queue before the worker starts, as a restart finds them.
func newWakeRigLeft(t *testing.T, wait, forward time.Duration, left []string) *wakeRig {
	t.Helper()
	opt, err := redis.ParseURL(redisDB(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &wakeRig{rdb: redis.NewClient(opt), waker: app.NewWaker(), handled: make(chan string, 100)}
	t.Cleanup(func() { r.rdb.Close() })
	for _, p := range left {
		enqueue(t, r.rdb, p) // the waker is not on the client yet
	}
	r.waker.SetWait(wait)
	r.rdb.AddHook(r.waker)
	r.rdb.AddHook(dequeueCounter{&r.dequeues}) // inside the waker: every dequeue it sends
	srv := asynq.NewServerFromRedisClient(r.rdb, asynq.Config{Concurrency: 1, Queues: map[string]int{tasks.QueueName: 1},
		TaskCheckInterval: 10 * time.Millisecond, DelayedTaskCheckInterval: forward, LogLevel: asynq.ErrorLevel})
	if err := srv.Start(asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		r.handled <- string(task.Payload())
		return nil
	})); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.waker.Stop() // or the shutdown waits for the dequeue's wait to end
		srv.Shutdown()
	})
	waitFor(t, 10*time.Second, "the worker's first dequeue", func() bool { return r.dequeues.Load() > 0 })
	return r
}

// enqueue enqueues a task with payload through rdb.
func enqueue(t *testing.T, rdb *redis.Client, payload string) {
	t.Helper()
	client := asynq.NewClientFromRedisClient(rdb)
	if _, err := client.Enqueue(asynq.NewTask("wake", []byte(payload)), asynq.Queue(tasks.QueueName)); err != nil {
		t.Fatal(err)
	}
}

// expect waits for the handler to run the task with payload.
func (r *wakeRig) expect(t *testing.T, payload, why string) {
	t.Helper()
	select {
	case got := <-r.handled:
		if got != payload {
			t.Fatalf("ran %q, want %q", got, payload)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q did not run within 10 s: %s", payload, why)
	}
}

// TestWakerWaitsForOwnEnqueue: an idle worker whose dequeue may wait a
// minute does not poll Redis (asynq alone would, about every 10 ms), and a
// task this process enqueues runs at once: the enqueue ends the wait.
func TestWakerWaitsForOwnEnqueue(t *testing.T) {
	r := newWakeRig(t, time.Minute)
	idle := r.dequeues.Load()
	time.Sleep(300 * time.Millisecond)
	if n := r.dequeues.Load() - idle; n > 1 {
		t.Errorf("%d dequeues in 300 ms of idling; the first should wait a minute", n)
	}
	enqueue(t, r.rdb, "mine")
	r.expect(t, "mine", "the enqueue did not end the dequeue's wait of a minute")
	enqueue(t, r.rdb, "mine again")
	r.expect(t, "mine again", "the second enqueue did not end the next wait")
}

// TestWakerFindsOtherEnqueues: a task another process enqueues (a client
// without the waker) is found when the wait ends, as by a slower poll.
func TestWakerFindsOtherEnqueues(t *testing.T) {
	r := newWakeRig(t, 200*time.Millisecond)
	opt := r.rdb.Options()
	other := redis.NewClient(opt)
	defer other.Close()
	enqueue(t, other, "theirs")
	r.expect(t, "theirs", "a wait of 200 ms held it")
}

// TestNoWaitNoChange: without a wait (the worker role) an empty dequeue
// answers at once, and asynq polls as it always does.
func TestNoWaitNoChange(t *testing.T) {
	r := newWakeRig(t, 0)
	idle := r.dequeues.Load()
	time.Sleep(300 * time.Millisecond)
	if n := r.dequeues.Load() - idle; n < 5 {
		t.Errorf("%d dequeues in 300 ms; asynq polls every 5-15 ms when nothing waits", n)
	}
}

// TestWakerIgnoresEmptyForwards: asynq forwards due retries every few
// moments (every 50 ms here); a forward that moves nothing ends no wait,
// and one that moves a due task does.
func TestWakerIgnoresEmptyForwards(t *testing.T) {
	r := newWakeRigForwarding(t, time.Minute, 50*time.Millisecond)
	idle := r.dequeues.Load()
	time.Sleep(500 * time.Millisecond)
	if n := r.dequeues.Load() - idle; n > 1 {
		t.Errorf("%d dequeues in 500 ms of forwards that moved nothing; the wait is a minute", n)
	}
	client := asynq.NewClientFromRedisClient(r.rdb)
	if _, err := client.Enqueue(asynq.NewTask("wake", []byte("due")), asynq.Queue(tasks.QueueName),
		asynq.ProcessIn(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "due", "the forward that moved it did not end the wait of a minute")
}

// TestWakerLooksOncePerOwnTask: at a light load the queue is empty after
// each task; knowing that nothing of its own is left, the worker waits for
// the next enqueue before it looks, instead of looking, finding nothing and
// then waiting: one dequeue per task, not two.
func TestWakerLooksOncePerOwnTask(t *testing.T) {
	r := newWakeRig(t, time.Minute)
	idle := r.dequeues.Load()
	for i := range 5 {
		p := fmt.Sprint("task ", i)
		enqueue(t, r.rdb, p)
		r.expect(t, p, "the enqueue did not end the wait")
		time.Sleep(20 * time.Millisecond) // asynq is back in its dequeue, waiting
	}
	if n := r.dequeues.Load() - idle; n != 5 {
		t.Errorf("%d dequeues for 5 tasks enqueued one at a time; want 5", n)
	}
}

// TestWakerDrainsTasksLeftFromBefore: tasks the waker did not see queued
// (left from before a restart, or another process's) are taken one after
// the other, without the wait (a minute here) between them that its own
// count, which holds none of them, would ask for.
func TestWakerDrainsTasksLeftFromBefore(t *testing.T) {
	left := make([]string, 20)
	for i := range left {
		left[i] = fmt.Sprint("left ", i)
	}
	r := newWakeRigLeft(t, time.Minute, time.Minute, left)
	for _, p := range left {
		r.expect(t, p, "a task left in the queue waited for the next enqueue")
	}
	// Then the queue was seen empty: a task of its own runs at once.
	time.Sleep(20 * time.Millisecond)
	enqueue(t, r.rdb, "mine")
	r.expect(t, "mine", "the enqueue did not end the wait")
}
