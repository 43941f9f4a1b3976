package app

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
)

func TestParseRedisURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url  string
		want asynq.RedisConnOpt
	}{
		{"redis://127.0.0.1:6379/3", asynq.RedisClientOpt{Addr: "127.0.0.1:6379", DB: 3}},
		{"redis://:pw@cache:6380", asynq.RedisClientOpt{Addr: "cache:6380", Password: "pw"}},
		{"redis-sentinel://s1:26379,s2:26379?master=mymaster", asynq.RedisFailoverClientOpt{MasterName: "mymaster",
			SentinelAddrs: []string{"s1:26379", "s2:26379"}}},
		{"redis-cluster://n1:7000,n2:7001,n3:7002", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001", "n3:7002"}}},
		{"redis-cluster://user:pw@n1:7000", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}, Username: "user", Password: "pw"}},
	}
	for _, tc := range cases {
		got, err := parseRedisURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.url, diff)
		}
	}
	for _, bad := range []string{"redis-cluster://", "http://x", "redis-sentinel://s1:26379"} {
		if _, err := parseRedisURL(bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}
