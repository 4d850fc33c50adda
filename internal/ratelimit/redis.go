package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/ulule/limiter/v3"
	redisstore "github.com/ulule/limiter/v3/drivers/store/redis"
)

// lazyRedis is a limiter store on Redis that connects on first use and again after a
// failure, so a Redis that is down when Gatehouse starts (or restarts later) is picked
// up as soon as it answers; until then every call fails and Limiter falls back to memory.
type lazyRedis struct {
	limiter.Store
	client *redis.Client
	prefix string
	mu     sync.Mutex
	inner  limiter.Store
}

// NewRedisStore returns a limiter store on the Redis at url (redis:// or rediss://),
// its keys starting with prefix.
func NewRedisStore(url, prefix string) (limiter.Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	// Fail fast: a dead Redis must not hold requests for seconds before the fallback.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 500*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
	return &lazyRedis{client: redis.NewClient(opt), prefix: prefix}, nil
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
	s, err := l.store(ctx)
	if err != nil {
		return limiter.Context{}, err
	}
	return s.Get(ctx, key, rate)
}

// Close releases the connection pool.
func (l *lazyRedis) Close() error { return l.client.Close() }

// Ping asks Redis whether it answers (the limiter's background probe).
func (l *lazyRedis) Ping(ctx context.Context) error { return l.client.Ping(ctx).Err() }
