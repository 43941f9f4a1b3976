package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluicehq/sluice/engine/tasks"
)

// asynq has no blocking dequeue: when its queue is empty its one dequeuing
// loop sleeps 5-15 ms (TaskCheckInterval 10 ms) before it looks again. A
// task enqueued meanwhile waits out the sleep (5 ms on average at 2,500
// events/s, when the queue empties between tasks), and an idle worker polls
// Redis about 90 times a second, most of what an idle `sluice serve`
// spends (5 % of a core).
//
// A waker turns that poll into a wait when the tasks come from this very
// process, as under `sluice serve`: a dequeue that finds the queue empty
// waits up to its wait for this process to enqueue (or to move a due retry
// into the queue), and then dequeues again, inside the same call, so asynq
// gets the task without sleeping. Tasks enqueued by other processes are
// found when the wait ends, as by a slower poll. Without a wait (the worker
// role, whose tasks come from api processes) it changes nothing.
//
// The waker also counts the tasks this process put in the queue and has
// not yet seen dequeued. When none is left, a dequeue waits before it
// looks rather than after: at a light load the queue is empty after each
// task, and asynq's look that finds it so was one Redis round trip per
// task out of four. The count is trusted only from a look that found the
// queue empty until a task it did not count is dequeued (tasks left from
// before a restart, or another process's): until the queue is next seen
// empty, every dequeue looks at once, as asynq's own would.
type waker struct {
	wait     atomic.Int64  // nanoseconds; 0: dequeues do not wait
	queued   atomic.Int64  // tasks this process queued, less those dequeued since; never below 0
	known    atomic.Bool   // queued is all the queue holds, as far as this process can tell
	enqueue  chan struct{} // a task was enqueued since the last dequeue looked
	stopped  chan struct{} // closed by stop
	stopOnce sync.Once
}

// serveWakeWait is how long an empty dequeue waits under `sluice serve`,
// and so the longest a task enqueued by another process waits beyond
// asynq's own poll.
const serveWakeWait = 50 * time.Millisecond

func newWaker() *waker { return &waker{enqueue: make(chan struct{}, 1), stopped: make(chan struct{})} }

// setWait sets how long an empty dequeue waits (0: it does not).
func (w *waker) setWait(d time.Duration) { w.wait.Store(int64(d)) }

// stop ends the wait of a dequeue, and of those to come: asynq stops its
// dequeuing loop only between dequeues, so a shutdown would wait for it.
func (w *waker) stop() {
	w.stopOnce.Do(func() {
		w.setWait(0)
		close(w.stopped)
	})
}

// The keys of Sluice's queue that asynq's scripts name.
var (
	pendingKey = fmt.Sprintf("asynq:{%s}:pending", tasks.QueueName)
	pausedKey  = fmt.Sprintf("asynq:{%s}:paused", tasks.QueueName)
)

// scriptKeys returns the keys of an EVAL or EVALSHA command, or nil.
func scriptKeys(cmd redis.Cmder) []any {
	args := cmd.Args()
	if len(args) < 3 {
		return nil
	}
	if name, _ := args[0].(string); !strings.EqualFold(name, "evalsha") && !strings.EqualFold(name, "eval") {
		return nil
	}
	n, ok := args[2].(int)
	if !ok || n < 0 || 3+n > len(args) {
		return nil
	}
	return args[3 : 3+n]
}

// isDequeue tells asynq's dequeue script (KEYS: pending, paused, active,
// lease) from its scripts that add to the queue (enqueue, and the forward
// of due retries: pending among their other KEYS).
func isDequeue(keys []any) bool {
	return len(keys) >= 2 && keys[0] == pendingKey && keys[1] == pausedKey
}

func (w *waker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (w *waker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (w *waker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		keys := scriptKeys(cmd)
		if keys == nil {
			return next(ctx, cmd)
		}
		if !isDequeue(keys) {
			err := next(ctx, cmd)
			if n := added(cmd); err == nil && slices.Contains(keys, any(pendingKey)) && n > 0 {
				w.queued.Add(n)
				select {
				case w.enqueue <- struct{}{}:
				default: // told already
				}
			}
			return err
		}
		wait := time.Duration(w.wait.Load())
		waited := false
		if wait > 0 && w.known.Load() && w.queued.Load() == 0 {
			// Nothing of this process's is queued: the look waits for an
			// enqueue, or for the wait's end (another process's tasks).
			waited = true
			w.await(ctx, wait)
		}
		select {
		case <-w.enqueue: // what this dequeue will find; it need not be told again
		default:
		}
		err := next(ctx, cmd)
		w.looked(err)
		c, ok := cmd.(*redis.Cmd) // what asynq's scripts answer in
		if wait <= 0 || waited || !ok || !errors.Is(err, redis.Nil) {
			return err
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			select {
			case <-w.enqueue:
			case <-timer.C:
				return err
			case <-w.stopped:
				return err
			case <-ctx.Done():
				return err
			}
			again := redis.NewCmd(ctx, cmd.Args()...)
			err := next(ctx, again)
			w.looked(err)
			if !errors.Is(err, redis.Nil) {
				c.SetVal(again.Val())
				c.SetErr(err)
				return err
			}
		}
	}
}

// await waits up to wait for an enqueue (leaving it to be taken by the
// dequeue that follows), for the waker to stop or for ctx to end.
func (w *waker) await(ctx context.Context, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.enqueue:
	case <-timer.C:
	case <-w.stopped:
	case <-ctx.Done():
	}
}

// looked counts a dequeue's answer: an empty queue holds nothing; a task
// is one fewer queued, or, when none was counted, one of a producer the
// count does not know, which may have queued more.
func (w *waker) looked(err error) {
	switch {
	case err == nil:
		for {
			n := w.queued.Load()
			if n <= 0 {
				w.known.Store(false)
				return
			}
			if w.queued.CompareAndSwap(n, n-1) {
				return
			}
		}
	case errors.Is(err, redis.Nil):
		w.queued.Store(0)
		w.known.Store(true)
	}
}

// added returns how many tasks a script that adds to the queue added (its
// answer the number, or 1/0): none for an enqueue of an id already taken,
// or a forward of due retries when none is due, as every 250 ms. An answer
// of another kind counts as one.
func added(cmd redis.Cmder) int64 {
	c, ok := cmd.(*redis.Cmd)
	if !ok {
		return 1
	}
	n, ok := c.Val().(int64)
	if !ok {
		return 1
	}
	return n
}

var _ redis.Hook = (*waker)(nil)
