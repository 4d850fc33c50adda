package kv

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// incrScript increments a counter and gives it a TTL only when the key did not exist
// before, in one atomic step. INCR followed by EXPIRE … NX would not do: NX also
// fires on an existing key without expiry, and the interface promises that an
// existing key keeps its expiry. The TTL is in milliseconds; 0 means none.
// go-redis runs it by digest and falls back to sending the source when Redis
// answers NOSCRIPT — which is what happens after a Redis restart empties the cache.
var incrScript = redis.NewScript(`
local existed = redis.call('EXISTS', KEYS[1])
local n = redis.call('INCR', KEYS[1])
local ttl = tonumber(ARGV[1])
if existed == 0 and ttl > 0 then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return n
`)

// Incr implements Store.
func (r *Redis) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := incrScript.Run(ctx, r.client, []string{r.key(key)}, millis(ttl)).Int64()
	if err != nil {
		return 0, r.fail("incr", err)
	}
	return n, nil
}

// decrScript decrements an existing counter, removing it at 0, without touching its
// expiry otherwise (DECR on a missing key would create it at -1, without expiry).
var decrScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	return 0
end
local n = tonumber(v)
if n == nil then
	return redis.error_reply('value is not an integer')
end
if n <= 1 then
	redis.call('DEL', KEYS[1])
	return 0
end
return redis.call('DECR', KEYS[1])
`)

// Decr implements Store.
func (r *Redis) Decr(ctx context.Context, key string) (int64, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := decrScript.Run(ctx, r.client, []string{r.key(key)}).Int64()
	if err != nil {
		return 0, r.fail("decr", err)
	}
	return n, nil
}

// GetInt implements Store.
func (r *Redis) GetInt(ctx context.Context, key string) (int64, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	n, err := r.client.Get(ctx, r.key(key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, r.fail("get", err)
	}
	return n, nil
}

// SetInt implements Store.
func (r *Redis) SetInt(ctx context.Context, key string, v int64, ttl time.Duration) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Set(ctx, r.key(key), v, expiry(ttl)).Err(); err != nil {
		return r.fail("set", err)
	}
	return nil
}

// TTL implements Store.
func (r *Redis) TTL(ctx context.Context, key string) (time.Duration, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	// PTTL answers -2 for a missing key and -1 for a key without expiry.
	ms, err := r.client.Do(ctx, "PTTL", r.key(key)).Int64()
	if err != nil {
		return 0, r.fail("ttl", err)
	}
	if ms < 0 {
		return 0, nil
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// Del implements Store.
func (r *Redis) Del(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil // DEL without keys is a syntax error in Redis
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.key(k)
	}
	if !r.cluster || len(full) == 1 {
		if err := r.client.Del(ctx, full...).Err(); err != nil {
			return r.fail("del", err)
		}
		return nil
	}
	// In a cluster the keys may hash to different slots, and one DEL across slots is
	// refused (CROSSSLOT): delete them one by one, pipelined (go-redis sends each to
	// its node). This is not atomic, so a caller must not rely on seeing all or none
	// of them gone; the lockout's keys, for one, only ever err on the strict side
	// when some are still there.
	cmds, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range full {
			p.Del(ctx, k)
		}
		return nil
	})
	if err == nil {
		for _, c := range cmds {
			if err = c.Err(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return r.fail("del", err)
	}
	return nil
}

// Put implements Store.
func (r *Redis) Put(ctx context.Context, key string, data []byte, ttl time.Duration) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Set(ctx, r.key(key), data, expiry(ttl)).Err(); err != nil {
		return r.fail("put", err)
	}
	return nil
}

// Take implements Store with GETDEL (Redis ≥ 6.2): one command, so exactly one of
// several concurrent Takes, from any number of instances, gets the value.
func (r *Redis) Take(ctx context.Context, key string) ([]byte, error) {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	data, err := r.client.GetDel(ctx, r.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, r.fail("take", err)
	}
	return data, nil
}

// Ping implements Store.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.fail("ping", err)
	}
	return nil
}

// Close implements Store. Later calls fail with ErrUnavailable.
func (r *Redis) Close() error {
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return r.fail("close", err)
	}
	return nil
}

// key puts the store's prefix before a caller's key.
func (r *Redis) key(k string) string { return r.prefix + k }

// bound gives one operation its deadline, unless the caller's is sooner.
func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opTimeout)
}

// millis converts a TTL to whole milliseconds, rounding up so that a positive TTL
// never becomes "no expiry"; ttl <= 0 gives 0.
func millis(ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}

// expiry converts a TTL for go-redis's SET: 0 means none. Negative values are mapped
// to 0 because go-redis reads -1 as KEEPTTL, which would keep an old expiry.
func expiry(ttl time.Duration) time.Duration {
	return time.Duration(millis(ttl)) * time.Millisecond
}
