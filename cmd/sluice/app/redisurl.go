package app

import (
	"errors"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
)

// parseRedisURL reads SLUICE_REDIS_URL: redis://, rediss://,
// redis-socket:// and redis-sentinel:// as asynq parses them, plus
// redis-cluster://[:password@]host:port,host:port for Redis Cluster, which
// asynq supports but does not parse from a URL.
func parseRedisURL(raw string) (asynq.RedisConnOpt, error) {
	if !strings.HasPrefix(raw, "redis-cluster://") {
		opt, err := asynq.ParseRedisURI(raw)
		if f, ok := opt.(asynq.RedisFailoverClientOpt); ok && f.MasterName == "" {
			return nil, errors.New("redis-sentinel:// needs ?master=NAME")
		}
		return opt, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, a := range strings.Split(u.Host, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return nil, errors.New("redis-cluster:// needs at least one host:port")
	}
	opt := asynq.RedisClusterClientOpt{Addrs: addrs}
	if u.User != nil {
		opt.Username = u.User.Username()
		opt.Password, _ = u.User.Password()
	}
	return opt, nil
}
