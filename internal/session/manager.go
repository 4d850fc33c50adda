package session

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ErrNoSession means the token does not name a live session (unknown, revoked, expired,
// idle too long, or its user may no longer sign in). Callers treat it as signed out.
var ErrNoSession = errors.New("no live session")

// Options configure a Manager; zero fields take the defaults.
type Options struct {
	Lifetime      time.Duration // absolute lifetime; default 30 days
	IdleTimeout   time.Duration // 0: no idle timeout
	CacheTTL      time.Duration // how long a validated session is trusted from memory; default 1 s
	CacheSize     int           // entries; default 100,000
	TouchInterval time.Duration // last_active write coalescing; default 1 minute
}

func (o *Options) defaults() {
	if o.Lifetime <= 0 {
		o.Lifetime = 30 * 24 * time.Hour
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = time.Second
	}
	if o.CacheSize <= 0 {
		o.CacheSize = 100_000
	}
	if o.TouchInterval <= 0 {
		o.TouchInterval = time.Minute
	}
}

// Manager creates, validates and revokes sessions.
type Manager struct {
	store   store.Store
	clk     clock.Clock
	opt     Options
	cache   *cache
	touches *toucher
}

// NewManager returns a Manager over st. Close it to stop its background writer.
func NewManager(st store.Store, clk clock.Clock, opt Options) *Manager {
	opt.defaults()
	return &Manager{store: st, clk: clk, opt: opt, cache: newCache(opt.CacheSize), touches: newToucher()}
}

// Close stops the background writer of last-activity times (what is queued is written
// first).
func (m *Manager) Close() { m.touches.close() }

// Lifetime is the absolute session lifetime.
func (m *Manager) Lifetime() time.Duration { return m.opt.Lifetime }

// Create starts a session for user u and returns the bearer token (to be put in the
// cookie) and the stored record. The token is never stored.
func (m *Manager) Create(ctx context.Context, tenant store.TenantHandle, u store.User, methods []string, ip, userAgent string) (string, store.Session, error) {
	return m.create(ctx, tenant, u, methods, ip, userAgent, false, m.opt.Lifetime)
}

// PendingLifetime is how long a half-signed-in session waits for its second factor.
const PendingLifetime = 5 * time.Minute

// CreatePending starts a half-signed-in session (password done, second factor
// outstanding). Validate never accepts it, so it grants nothing upstream; only
// ValidatePending does, for the second-factor step.
func (m *Manager) CreatePending(ctx context.Context, tenant store.TenantHandle, u store.User, methods []string, ip, userAgent string) (string, store.Session, error) {
	return m.create(ctx, tenant, u, methods, ip, userAgent, true, PendingLifetime)
}

func (m *Manager) create(ctx context.Context, tenant store.TenantHandle, u store.User, methods []string, ip, userAgent string, pending bool, lifetime time.Duration) (string, store.Session, error) {
	now := m.clk.Now()
	token := secret.NewToken()
	s := store.Session{
		ID:          secret.NewID(),
		TenantID:    tenant.TenantID(),
		UserID:      u.ID,
		TokenHash:   secret.HashToken(token),
		AuthMethods: methods,
		CreatedAt:   now,
		ExpiresAt:   now.Add(lifetime),
		LastActive:  now,
		IP:          ip,
		UserAgent:   truncate(userAgent, 512),
		Pending:     pending,
	}
	if err := tenant.Sessions().CreateSession(ctx, s); err != nil {
		return "", store.Session{}, fmt.Errorf("creating session: %w", err)
	}
	return token, s, nil
}

// SweepCache forgets cached sessions whose cache time is over, every interval (at
// least a second), until ctx ends; it returns how many went in all. A session used
// once then stays in memory for about the interval, not until the cache is full.
func (m *Manager) SweepCache(ctx context.Context, interval time.Duration) int {
	t := time.NewTicker(max(interval, time.Second))
	defer t.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return n
		case <-t.C:
			n += m.cache.sweep(m.clk.Now())
		}
	}
}

// Entry is a validated session with everything the request path needs, computed once.
type Entry struct {
	Session store.Session
	User    store.User
	Facts   identity.Facts     // what the headers and the signed assertion say
	Headers identity.HeaderSet // X-Gatehouse-* and Remote-*
	// Subject is what route permissions are checked against: the user's grants
	// under the tenant's role definitions as they were when the entry was loaded
	// (so a role change reaches every instance within the cache TTL), their teams,
	// and whether the session used a second factor.
	Subject policy.Subject
	expires time.Time // cache expiry
	loaded  time.Time // when it was read from the store
	key     [sha256.Size]byte
	touched atomic.Int64 // unix nanos of the last activity written or queued
}

// Verified is when the user last proved who they are in this session.
func (e *Entry) Verified() time.Time {
	if e.Session.VerifiedAt.IsZero() {
		return e.Session.CreatedAt
	}
	return e.Session.VerifiedAt
}

// Validate returns the live, fully signed-in session for token in tenant (slug is the
// tenant's slug, for the headers). It answers from the cache when it can. A pending
// (half-signed-in) session is no session here.
func (m *Manager) Validate(ctx context.Context, tenant store.TenantHandle, slug, token string) (*Entry, error) {
	return m.validate(ctx, tenant, slug, token, false)
}

// ValidatePending returns the live half-signed-in session for token, and nothing else.
func (m *Manager) ValidatePending(ctx context.Context, tenant store.TenantHandle, slug, token string) (*Entry, error) {
	return m.validate(ctx, tenant, slug, token, true)
}

func (m *Manager) validate(ctx context.Context, tenant store.TenantHandle, slug, token string, pending bool) (*Entry, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNoSession
	}
	var buf [128]byte // a stack copy: converting the string would allocate
	key := sha256.Sum256(buf[:copy(buf[:], token)])
	now := m.clk.Now()
	e := m.cache.get(key)
	if e == nil || !now.Before(e.expires) {
		var err error
		if e, err = m.load(ctx, tenant, slug, key, now); err != nil {
			return nil, err
		}
	}
	if e.Session.TenantID != tenant.TenantID() || !now.Before(e.Session.ExpiresAt) || e.Session.Pending != pending {
		return nil, ErrNoSession
	}
	return e, nil
}

// ValidateID is Validate for a session named by its public id (the sid of an access
// token), answered from the cache when it can. Only full sessions count.
func (m *Manager) ValidateID(ctx context.Context, tenant store.TenantHandle, slug, id string) (*Entry, error) {
	if id == "" {
		return nil, ErrNoSession
	}
	now := m.clk.Now()
	e := m.cache.getID(id)
	if e == nil || !now.Before(e.expires) {
		s, err := tenant.Sessions().SessionByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrNoSession
		}
		if err != nil {
			return nil, fmt.Errorf("loading session: %w", err)
		}
		if len(s.TokenHash) != sha256.Size {
			return nil, ErrNoSession
		}
		if e, err = m.admit(ctx, tenant, slug, [sha256.Size]byte(s.TokenHash), s, now); err != nil {
			return nil, err
		}
	}
	if e.Session.TenantID != tenant.TenantID() || !now.Before(e.Session.ExpiresAt) || e.Session.Pending {
		return nil, ErrNoSession
	}
	return e, nil
}

func (m *Manager) load(ctx context.Context, tenant store.TenantHandle, slug string, key [sha256.Size]byte, now time.Time) (*Entry, error) {
	s, err := tenant.Sessions().SessionByTokenHash(ctx, key[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("loading session: %w", err)
	}
	return m.admit(ctx, tenant, slug, key, s, now)
}

// admit checks a session read from the store (revoked, expired, idle, its user still
// active), builds its entry and caches it.
func (m *Manager) admit(ctx context.Context, tenant store.TenantHandle, slug string, key [sha256.Size]byte, s store.Session, now time.Time) (*Entry, error) {
	if !s.RevokedAt.IsZero() || !now.Before(s.ExpiresAt) {
		m.cache.delete(key)
		return nil, ErrNoSession
	}
	if m.opt.IdleTimeout > 0 && now.Sub(s.LastActive) > m.opt.IdleTimeout {
		// Revoked, not merely refused: raising the idle timeout later must not revive it.
		m.cache.delete(key)
		_ = tenant.Sessions().RevokeSession(ctx, s.ID, now)
		return nil, ErrNoSession
	}
	u, err := tenant.Users().UserByID(ctx, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("loading session user: %w", err)
	}
	if u.Status != store.UserActive {
		// A restricted or deleted user's sessions end for good.
		_ = tenant.Sessions().RevokeSession(ctx, s.ID, now)
		return nil, ErrNoSession
	}
	roles, _, err := TenantRoles(ctx, tenant)
	if err != nil {
		return nil, err
	}
	// The cache keeps what requests need: not the password hash (it is read from the
	// store whenever a password is checked).
	u.PasswordHash = ""
	facts := identity.Facts{
		UserID: u.ID, Email: u.Email, Name: u.DisplayName,
		TenantID: s.TenantID, TenantSlug: slug,
		Roles: u.Roles, Teams: u.Teams,
		SessionID: s.ID, AuthMethods: s.AuthMethods,
	}
	e := &Entry{
		Session: s,
		User:    u,
		Facts:   facts,
		Headers: identity.MakeHeaderSet(facts),
		Subject: policy.Subject{
			UserID: u.ID, Teams: u.Teams, Grants: roles.Grants(u.Roles),
			MFA: slices.ContainsFunc(s.AuthMethods, func(m string) bool { return m != methodPassword }),
		},
		expires: now.Add(m.opt.CacheTTL),
		loaded:  now,
		key:     key,
	}
	e.touched.Store(s.LastActive.UnixNano())
	if !m.cache.put(e) {
		return nil, ErrNoSession // revoked while it was being read
	}
	return e, nil
}

// Seen records that the session was used now from ip. The store learns it later, from
// a background writer, and at most once per TouchInterval per session: nothing is
// written on the request path, and a busy session costs one write a minute.
func (m *Manager) Seen(tenant store.TenantHandle, e *Entry, ip string) {
	now := m.clk.Now().UnixNano()
	last := e.touched.Load()
	if now-last < int64(m.opt.TouchInterval) || !e.touched.CompareAndSwap(last, now) {
		return
	}
	m.touches.queue(touch{tenant: tenant, id: e.Session.ID, at: time.Unix(0, now), ip: ip})
}

// Flush returns once every activity write queued by Seen before it is in the store.
func (m *Manager) Flush() { m.touches.flush() }

// Revoke ends a session of tenant by its public id; the cache forgets it at once.
func (m *Manager) Revoke(ctx context.Context, tenant store.TenantHandle, sessionID string) error {
	if err := tenant.Sessions().RevokeSession(ctx, sessionID, m.clk.Now()); err != nil {
		return fmt.Errorf("revoking session: %w", err)
	}
	m.cache.revoke(sessionID, m.clk.Now())
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// RevokeUser ends every session of a user in tenant except the one with id except (""
// for none), and returns how many it ended. This instance's cache drops them at once
// (and refuses any of them read before now); other instances within CacheTTL.
func (m *Manager) RevokeUser(ctx context.Context, tenant store.TenantHandle, userID, except string) (int, error) {
	now := m.clk.Now()
	n, err := tenant.Sessions().RevokeUserSessions(ctx, userID, except, now)
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	m.cache.revokeUser(userID, except, now)
	return n, nil
}

// Verify records that the user of a session proved who they are again (re-
// authentication): the session's Verified time moves to now.
func (m *Manager) Verify(ctx context.Context, tenant store.TenantHandle, sessionID string) error {
	if err := tenant.Sessions().VerifySession(ctx, sessionID, m.clk.Now()); err != nil {
		return fmt.Errorf("recording re-authentication: %w", err)
	}
	m.cache.deleteSession(sessionID)
	return nil
}

// Forget drops a session from this instance's cache, so the next request reads the
// session and its user afresh (after a change to the user record).
func (m *Manager) Forget(sessionID string) { m.cache.deleteSession(sessionID) }

// ForgetUser drops every cached session of a user (after a change to the user record,
// such as new roles), so their next requests read it afresh.
func (m *Manager) ForgetUser(userID string) { m.cache.deleteUser(userID) }

// methodPassword is authn.MethodPassword: every other method is a second factor or a
// passkey, which counts as one.
const methodPassword = "pwd"

// TenantRoles returns the tenant's role definitions — the built-in ones with the
// tenant's own applied — and the stored definitions. A stored definition that no
// longer parses grants nothing. Everything that asks what a role allows (the
// gateway's sessions, the administrators' pages, the CLI) reads them here.
func TenantRoles(ctx context.Context, tenant store.TenantHandle) (*policy.Roles, []store.Role, error) {
	stored, err := tenant.Roles().ListRoles(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the tenant's roles: %w", err)
	}
	roles, _ := policy.BuiltinRoles().WithTenant(RoleSpecs(stored))
	return roles, stored, nil
}

// RoleSpecs converts stored roles to specs.
func RoleSpecs(stored []store.Role) []policy.RoleSpec {
	specs := make([]policy.RoleSpec, len(stored))
	for i, r := range stored {
		specs[i] = policy.RoleSpec{Name: r.Name, Description: r.Description, Permissions: r.Permissions}
	}
	return specs
}
