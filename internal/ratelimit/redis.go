package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// RedisClient is what the Redis limiter store needs of a go-redis client: one
// server, a Sentinel-managed primary or a cluster (redis.UniversalClient has it all).
// Every limiter script touches one key, so it runs unchanged on a cluster.
type RedisClient interface {
	redisstore.Client
	Ping(ctx context.Context) *redis.StatusCmd
}

// redisTimeout bounds one limiter call, so that a dead or failing-over Redis turns
// into the memory fallback within about a second instead of holding the request.
const redisTimeout = time.Second

// lazyRedis is a limiter store on Redis that loads its scripts on first use and again
// after a failure, so a Redis that is down when Gatehouse starts (or restarts later)
// is picked up as soon as it answers; until then every call fails and Limiter falls
// back to memory.
type lazyRedis struct {
	limiter.Store
	client RedisClient
	prefix string
	mu     sync.Mutex
	inner  limiter.Store
}

// NewRedisStore returns a limiter store on client, its keys starting with prefix. The
// client stays the caller's: the store never closes it.
func NewRedisStore(client RedisClient, prefix string) limiter.Store {
	return &lazyRedis{client: client, prefix: prefix}
}

func (l *lazyRedis) store(ctx context.Context) (limiter.Store, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inner != nil {
		return l.inner, nil
	}
	s, err := redisstore.NewStoreWithOptions(l.client, limiter.StoreOptions{Prefix: l.prefix, MaxRetry: 3})
	if err != nil {
		return nil, err
	}
	l.inner = s
	return s, nil
}

func (l *lazyRedis) Get(ctx context.Context, key string, rate limiter.Rate) (limiter.Context, error) {
	ctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	s, err := l.store(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Get(ctx, key, rate)
}

// Ping asks Redis whether it answers (the limiter's background probe).
func (l *lazyRedis) Ping(ctx context.Context) error { return l.client.Ping(ctx).Err() }
