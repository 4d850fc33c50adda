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

// hot is the hot shared state: lockout counters and passkey ceremonies (kv) and the
// rate-limit counters. It sits in a UsagePool keyed by where it lives (Redis address
// and key prefix, or this process's memory) — not by the configured limits — so a
// config reload keeps every count: a reload must never unlock an account.
type hot struct {
	kv      kv.Store
	limiter *ratelimit.Limiter // the shared stores; each config applies its own rules
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

// hotState opens (or shares) the kv store and the limiter stores: Redis when
// configured, memory otherwise. A Redis that is down at start does not stop Gatehouse:
// lockout checks answer 503 (closed) and rate limits run per instance until it answers.
func (a *App) hotState(ctx context.Context) (*hot, error) {
	url := caddy.NewReplacer().ReplaceAll(a.Redis, "")
	prefix := a.RedisKeyPrefix
	if prefix == "" {
		prefix = kv.DefaultKeyPrefix
	}
	key := "hot:" + url + "|" + prefix
	val, _, err := hotPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		if url == "" {
			return &hot{kv: kv.NewMemory(clock.Real{}, 1_000_000), limiter: ratelimit.New(nil, nil)}, nil
		}
		openCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := kv.OpenRedis(openCtx, url, kv.RedisOptions{KeyPrefix: prefix, Lazy: true})
		if err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		rl := ratelimit.NewRedisStore(r.Client(), prefix+"rl")
		return &hot{kv: r, limiter: ratelimit.New(rl, nil), closers: []func() error{r.Close}}, nil
	})
	if err != nil {
		return nil, err
	}
	a.hotKey = key
	h := val.(*hot)
	if a.Redis != "" {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := h.kv.Ping(pingCtx); err != nil {
			where := "" // the URL with its passwords redacted
			if s, ok := h.kv.(fmt.Stringer); ok {
				where = s.String()
			}
			a.logger.Warn("Redis not reachable at start; sign-in answers 503 until it is", zap.String("redis", where), zap.Error(err))
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
