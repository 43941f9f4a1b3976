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
type waker struct {
	wait     atomic.Int64  // nanoseconds; 0: dequeues do not wait
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
			if err == nil && slices.Contains(keys, any(pendingKey)) && !addedNone(cmd) {
				select {
				case w.enqueue <- struct{}{}:
				default: // told already
				}
			}
			return err
		}
		wait := time.Duration(w.wait.Load())
		select {
		case <-w.enqueue: // what this dequeue will find; it need not be told again
		default:
		}
		err := next(ctx, cmd)
		c, ok := cmd.(*redis.Cmd) // what asynq's scripts answer in
		if wait <= 0 || !ok || !errors.Is(err, redis.Nil) {
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
			if err := next(ctx, again); !errors.Is(err, redis.Nil) {
				c.SetVal(again.Val())
				c.SetErr(err)
				return err
			}
		}
	}
}

// addedNone tells a script that added no task (its answer the number it
// added, or 1/0): an enqueue of an id already taken, or a forward of due
// retries when none is due, as every 250 ms.
func addedNone(cmd redis.Cmder) bool {
	c, ok := cmd.(*redis.Cmd)
	if !ok {
		return false
	}
	n, ok := c.Val().(int64)
	return ok && n == 0
}

var _ redis.Hook = (*waker)(nil)
