package kv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Defaults for RedisOptions. They are short on purpose: the callers are sign-in
// paths that fail closed, so a dead or hung Redis must turn into a 503 within about a
// second, not hang a login for go-redis's default 5 s per attempt and 3 retries.
const (
	DefaultKeyPrefix         = "gatehouse:"
	DefaultRedisDialTimeout  = 500 * time.Millisecond
	DefaultRedisReadTimeout  = 300 * time.Millisecond
	DefaultRedisWriteTimeout = 300 * time.Millisecond
)

// RedisOptions tune a Redis store. The zero value is usable: every field has a
// default. Timeouts and pool size given as query parameters in the URL
// (dial_timeout=…, pool_size=…) are used when the matching field here is zero;
// parameters that would undo the fail-fast settings, or skip_verify, are refused.
type RedisOptions struct {
	// KeyPrefix is put before every key, so that several deployments (or tests) can
	// share one Redis database. Default "gatehouse:". Two prefixes must not be
	// prefixes of each other ("a:" and "a:b:" would overlap); end them with ":".
	KeyPrefix string
	// DialTimeout bounds one connection attempt. Default 500ms.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for one reply. Default 300ms.
	ReadTimeout time.Duration
	// WriteTimeout bounds sending one command. Default 300ms.
	WriteTimeout time.Duration
	// OpTimeout bounds one whole operation, retries and waiting for a pooled
	// connection included; the caller's context may shorten it. Default DialTimeout
	// plus the larger of ReadTimeout and WriteTimeout (800ms with the defaults).
	OpTimeout time.Duration
	// PoolSize is the number of pooled connections. Default go-redis's
	// 10 per GOMAXPROCS.
	PoolSize int
	// TLSConfig is used for rediss:// URLs, e.g. to trust a private CA or to present
	// a client certificate; its ServerName defaults to the URL's host. Default: the
	// system roots. Giving it with a redis:// URL is refused, because it would
	// suggest an encryption that is not happening.
	TLSConfig *tls.Config
	// Lazy skips the ping in OpenRedis, so that a gateway can start while Redis is
	// down; operations then fail with ErrUnavailable until Redis answers. Default
	// false: a misconfigured URL shows up at start.
	Lazy bool
}

// Redis is the shared Store: several gateway instances pointed at one Redis see the
// same counters and single-use values. It is safe for concurrent use, and it recovers
// by itself when Redis comes back after an outage (go-redis redials), so it never
// needs to be reopened.
type Redis struct {
	client    redis.UniversalClient // one server, a Sentinel-managed primary or a cluster
	cluster   bool                  // keys of one command may live on different nodes
	prefix    string
	opTimeout time.Duration
	secrets   []string // passwords, only to scrub them from error text
	display   string   // the URL with the passwords replaced, for logs and errors
}

// Compile-time check that Redis is a Store.
var _ Store = (*Redis)(nil)

// OpenRedis connects to the Redis at rawURL — redis://[user:password@]host:port/db,
// redis+sentinel://[user:password@]h1:26379,h2:26379/primary-name[?db=N] (Sentinel),
// redis+cluster://[user:password@]h1:7000,h2:7001 (Cluster), or the same with
// rediss for TLS (see parseTopology) — and, unless opts.Lazy, pings it. A
// configuration error is returned as is; a Redis that does not answer gives an error
// wrapping ErrUnavailable. Error text never contains a password.
func OpenRedis(ctx context.Context, rawURL string, opts RedisOptions) (*Redis, error) {
	cfg, err := redisConfig(rawURL, opts)
	if err != nil {
		return nil, err
	}
	r := &Redis{
		client:    cfg.newClient(),
		cluster:   cfg.topology.mode == modeCluster,
		prefix:    cfg.prefix,
		opTimeout: cfg.opTimeout,
		secrets:   cfg.topology.secrets,
		display:   cfg.display,
	}
	if opts.Lazy {
		return r, nil
	}
	pctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Ping(pctx).Err(); err != nil {
		_ = r.client.Close()
		return nil, r.fail("opening "+cfg.display, err)
	}
	return r, nil
}

// String returns the server URL with its password redacted, for logs.
func (r *Redis) String() string { return r.display }

// Client is the go-redis client, for other users of the same Redis (the rate
// limiter) to share its connections, fail-fast settings and fail-over handling. It
// stays the store's: Close closes it.
func (r *Redis) Client() redis.UniversalClient { return r.client }

// resolvedRedis is a validated configuration with every default applied.
type resolvedRedis struct {
	client    *redis.Options // every data node's settings (the only node's, for one server)
	topology  *topology
	prefix    string
	opTimeout time.Duration
	display   string // the redacted URL
}

// newClient makes the go-redis client: a plain one for one server, the universal
// client's failover or cluster client otherwise.
func (c *resolvedRedis) newClient() redis.UniversalClient {
	if c.topology.mode == modeSingle {
		return redis.NewClient(c.client)
	}
	return redis.NewUniversalClient(c.topology.universal(c.client))
}

// redisConfig validates the URL and options, reporting every problem at once, and
// applies the defaults.
func redisConfig(rawURL string, opts RedisOptions) (*resolvedRedis, error) {
	topo, err := parseTopology(rawURL)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(topo.nodeURL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("kv redis: parsing URL: %w", err)
	}
	display := topo.display
	scrub := func(err error) error { return scrubbedAll(err, topo.secrets) }

	var errs []error
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		errs = append(errs, fmt.Errorf("scheme must be redis://, rediss://, redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://, not %q", u.Scheme))
	}
	for _, name := range slices.Sorted(maps.Keys(u.Query())) {
		if why, ok := refusedQuery[name]; ok {
			errs = append(errs, fmt.Errorf("URL parameter %s is not accepted: %s", name, why))
		}
	}
	if opts.TLSConfig != nil && u.Scheme == "redis" {
		errs = append(errs, fmt.Errorf("a TLS config was given for a %s:// URL; use rediss to encrypt (rediss://, rediss+sentinel://, rediss+cluster://)", topo.scheme))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"dial timeout", opts.DialTimeout},
		{"read timeout", opts.ReadTimeout},
		{"write timeout", opts.WriteTimeout},
		{"operation timeout", opts.OpTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if opts.PoolSize < 0 {
		errs = append(errs, fmt.Errorf("pool size must not be negative, got %d", opts.PoolSize))
	}
	var o *redis.Options
	if len(errs) == 0 {
		if o, err = redis.ParseURL(topo.nodeURL); err != nil {
			errs = append(errs, scrub(err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("kv redis: configuring %s: %w", display, errors.Join(errs...))
	}

	o.DialTimeout = firstPositive(opts.DialTimeout, o.DialTimeout, DefaultRedisDialTimeout)
	o.ReadTimeout = firstPositive(opts.ReadTimeout, o.ReadTimeout, DefaultRedisReadTimeout)
	o.WriteTimeout = firstPositive(opts.WriteTimeout, o.WriteTimeout, DefaultRedisWriteTimeout)
	if opts.OpTimeout == 0 {
		opts.OpTimeout = o.DialTimeout + max(o.ReadTimeout, o.WriteTimeout)
	}
	if opts.PoolSize > 0 {
		o.PoolSize = opts.PoolSize
	}
	if opts.TLSConfig != nil {
		o.TLSConfig = opts.TLSConfig.Clone()
		if o.TLSConfig.ServerName == "" && topo.mode == modeSingle {
			o.TLSConfig.ServerName = u.Hostname()
		}
	} else if o.TLSConfig != nil && topo.mode != modeSingle {
		// Nodes are reached at the addresses Sentinel or the cluster announces: each
		// is checked against the name dialled (crypto/tls takes an empty ServerName
		// from the address), not against the first address of the URL.
		o.TLSConfig.ServerName = ""
	}
	failFast(o, opts.OpTimeout)
	prefix := opts.KeyPrefix
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &resolvedRedis{client: o, topology: topo, prefix: prefix, opTimeout: opts.OpTimeout, display: display}, nil
}

// failFast sets the go-redis knobs that decide how long a dead Redis takes to
// report. One dial attempt per connection (go-redis would try 5), and at most two
// retries of a command with short back-off: a retry rescues a command that met a
// connection broken by a Redis restart, and OpTimeout caps the total. A retried
// INCR whose reply was lost may count twice, and a retried GETDEL may find the value
// already gone; both err on the safe side (more failures counted, a ceremony to
// restart).
func failFast(o *redis.Options, opTimeout time.Duration) {
	o.DialerRetries = 1
	o.MaxRetries = 2
	o.MinRetryBackoff = 8 * time.Millisecond
	o.MaxRetryBackoff = 64 * time.Millisecond
	o.PoolTimeout = opTimeout
	// Let the per-operation deadline reach the socket deadlines.
	o.ContextTimeoutEnabled = true
	// Neither is needed for a handful of string commands, and both cost a round trip
	// on every new connection (and an error on Redis < 7.2).
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
}

// refusedQuery lists the go-redis URL parameters that OpenRedis refuses rather
// than silently overriding or obeying. Others (dial_timeout, pool_size, …) are used.
var refusedQuery = map[string]string{
	"max_retries":       "retries are fixed so that a dead Redis fails fast",
	"min_retry_backoff": "retries are fixed so that a dead Redis fails fast",
	"max_retry_backoff": "retries are fixed so that a dead Redis fails fast",
	"pool_timeout":      "it follows the operation timeout",
	"skip_verify":       "it turns off certificate checks; give the CA in the TLS config instead",
}

// firstPositive returns the first of ds that is > 0.
func firstPositive(ds ...time.Duration) time.Duration {
	for _, d := range ds {
		if d > 0 {
			return d
		}
	}
	return 0
}
