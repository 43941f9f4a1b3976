package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Floor settings: those of Sluice's worker on PostgreSQL (cmd/sluice/app
// runWorker, workerDefaults).
const (
	floorConcurrency = 128
	floorQueue       = "floor"
	floorTaskType    = "floor:post"
)

// floorPayload is a floor task's payload: the event's index and send stamp.
type floorPayload struct {
	Index  int    `json:"index"`
	SentAt string `json:"sent_at"`
}

// floorBody is the webhook the floor posts: the shape of Sluice's, so that
// the receiver does the same work.
type floorBody struct {
	ID        string            `json:"id"`
	Event     string            `json:"event"`
	Timestamp string            `json:"timestamp"`
	Scenario  map[string]string `json:"scenario"`
	Data      map[string]string `json:"data"`
	Extra     map[string]string `json:"extra"`
}

// floor is a bare asynq server in this process whose handler makes the same
// JSON POST to the receiver as Sluice's webhook step: the least a queue
// worker on this Redis can do per delivery, to compare Sluice with.
type floor struct {
	rdb    redis.UniversalClient
	client *asynq.Client
	srv    *asynq.Server
	httpc  *http.Client
	target string
}

// startFloor flushes the Redis database at redisURL and starts the floor's
// worker on it.
func startFloor(ctx context.Context, redisURL, target string) (*floor, error) {
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	f := &floor{
		rdb:    opt.MakeRedisClient().(redis.UniversalClient),
		httpc:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: floorConcurrency}, Timeout: 15 * time.Second},
		target: target,
	}
	if err := f.rdb.FlushDB(ctx).Err(); err != nil {
		f.rdb.Close()
		return nil, fmt.Errorf("flush redis: %w", err)
	}
	f.client = asynq.NewClientFromRedisClient(f.rdb)
	f.srv = asynq.NewServerFromRedisClient(f.rdb, asynq.Config{
		Concurrency:       floorConcurrency,
		Queues:            map[string]int{floorQueue: 1},
		TaskCheckInterval: 10 * time.Millisecond,
		LogLevel:          asynq.FatalLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(floorTaskType, f.post)
	if err := f.srv.Start(mux); err != nil {
		f.close()
		return nil, fmt.Errorf("start the floor's asynq server: %w", err)
	}
	return f, nil
}

// close stops the worker and releases Redis.
func (f *floor) close() {
	if f.srv != nil {
		f.srv.Shutdown()
	}
	f.client.Close()
	f.rdb.Close()
	f.httpc.CloseIdleConnections()
}

// send enqueues one task per event; it is the floor's sendFunc.
func (f *floor) send(ctx context.Context, first, count int, sentAt int64) error {
	stamp := strconv.FormatInt(sentAt, 10)
	for i := first; i < first+count; i++ {
		p, err := json.Marshal(floorPayload{Index: i, SentAt: stamp})
		if err != nil {
			return err
		}
		if _, err := f.client.EnqueueContext(ctx, asynq.NewTask(floorTaskType, p), asynq.Queue(floorQueue)); err != nil {
			return fmt.Errorf("floor: enqueue: %w", err)
		}
	}
	return nil
}

// post is the floor's task handler: build the body, POST it, expect 2xx.
func (f *floor) post(ctx context.Context, t *asynq.Task) error {
	var p floorPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: %v", asynq.SkipRetry, err)
	}
	body, err := json.Marshal(floorBody{
		ID: fmt.Sprintf("evt_%d", p.Index), Event: "automation.webhook.send",
		Timestamp: time.Now().UTC().Format(time.RFC3339),
		Scenario:  map[string]string{"id": "scn_floor", "name": "Bench", "step": "w1"},
		Data:      map[string]string{"type": "contact", "id": fmt.Sprintf("ctc_%d", p.Index), "email": email(p.Index), "firstname": "Bench"},
		Extra:     map[string]string{"sent_at": p.SentAt},
	})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", f.target, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.httpc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("receiver answered %d", resp.StatusCode)
	}
	return nil
}
