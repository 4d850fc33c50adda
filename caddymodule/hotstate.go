package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/mfa/passkey"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store/kv"
)

// hot is the hot shared state: lockout counters (kv) and rate limits. It sits in a
// UsagePool so that a config reload keeps the counts (a reload must not unlock).
type hot struct {
	kv      kv.Store
	limiter *ratelimit.Limiter
	closers []func() error
}

func (h *hot) Destruct() error {
	var errs []error
	for _, c := range h.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

var hotPool = caddy.NewUsagePool()

// hotState opens (or shares) the kv store and the limiter: Redis when configured,
// memory otherwise. A Redis that is down at start does not stop Gatehouse: lockout
// checks answer 503 (closed) and rate limits run per instance until it answers.
func (a *App) hotState(ctx caddy.Context) (*hot, error) {
	url := caddy.NewReplacer().ReplaceAll(a.Redis, "")
	rules, err := a.rateRules()
	if err != nil {
		return nil, err
	}
	prefix := a.RedisKeyPrefix
	if prefix == "" {
		prefix = "gatehouse:"
	}
	a.hotKey = fmt.Sprintf("hot:%s|%s|%v", url, prefix, rules)
	val, _, err := hotPool.LoadOrNew(a.hotKey, func() (caddy.Destructor, error) {
		if url == "" {
			return &hot{kv: kv.NewMemory(clock.Real{}, 1_000_000), limiter: ratelimit.New(nil, rules)}, nil
		}
		openCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := kv.OpenRedis(openCtx, url, kv.RedisOptions{KeyPrefix: prefix, Lazy: true})
		if err != nil {
			return nil, fmt.Errorf("redis %s: %w", redactDSN(url), err)
		}
		rl, err := ratelimit.NewRedisStore(url, prefix+"rl")
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("redis %s: %w", redactDSN(url), err)
		}
		h := &hot{kv: r, limiter: ratelimit.New(rl, rules), closers: []func() error{r.Close}}
		if c, ok := rl.(interface{ Close() error }); ok {
			h.closers = append(h.closers, c.Close)
		}
		return h, nil
	})
	if err != nil {
		a.hotKey = ""
		return nil, err
	}
	h := val.(*hot)
	logger, m := a.logger, a.metrics
	h.limiter.OnDegraded = func(degraded bool, err error) {
		m.Degraded(degraded)
		if degraded {
			logger.Warn("Redis unreachable: rate limits fall back to this instance's memory; sign-in answers 503 until it returns", zap.Error(err))
		} else {
			logger.Info("Redis reachable again: rate limits shared")
		}
	}
	if a.Redis != "" {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := h.kv.Ping(pingCtx); err != nil {
			a.logger.Warn("Redis not reachable at start; sign-in answers 503 until it is", zap.String("redis", redactDSN(url)), zap.Error(err))
		}
	}
	return h, nil
}

// kvChallenges keeps passkey ceremony state in the kv store, so a ceremony begun on one
// instance can finish on another when the store is Redis.
type kvChallenges struct{ kv kv.Store }

func (c kvChallenges) Put(ctx context.Context, id string, data []byte, ttl time.Duration) error {
	return c.kv.Put(ctx, "webauthn:"+id, data, ttl)
}

func (c kvChallenges) Take(ctx context.Context, id string) ([]byte, error) {
	b, err := c.kv.Take(ctx, "webauthn:"+id)
	if errors.Is(err, kv.ErrNotFound) {
		return nil, passkey.ErrChallengeNotFound
	}
	return b, err
}
