package token

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Lifetimes of the token endpoint's answers.
const (
	DefaultAccessTTL = 15 * time.Minute
	// DefaultRefreshGrace is how long after a refresh token was rotated a parallel
	// request presenting it too gets the same successor instead of counting as theft.
	DefaultRefreshGrace = 10 * time.Second
)

// Audit actions of the token endpoint.
const (
	ActionIssued      = "token.issued"
	ActionRefreshed   = "token.refreshed"
	ActionReuse       = "token.refresh_reuse"
	ActionRevoked     = "token.revoked"
	ActionRefusedGone = "token.refresh_refused"
)

// Errors of the token endpoint.
var (
	// ErrInvalidGrant: the refresh token is unknown, expired, revoked, spent, or its
	// session has ended (RFC 6749 invalid_grant).
	ErrInvalidGrant = errors.New("invalid refresh token")
	// ErrRefreshReused: a spent refresh token came back after the grace window — the
	// family and its session are revoked. It wraps ErrInvalidGrant.
	ErrRefreshReused = fmt.Errorf("%w: reused after rotation (its family and session are revoked)", ErrInvalidGrant)
)

// Sessions is what the token endpoint needs of the session manager.
type Sessions interface {
	ValidateID(ctx context.Context, tenant store.TenantHandle, slug, id string) (*session.Entry, error)
	Revoke(ctx context.Context, tenant store.TenantHandle, sessionID string) error
}

// Metrics counts token events; may be nil.
type Metrics interface {
	TokenEvent(event string)
}

// Service runs the token endpoint: access tokens for a full session, refresh tokens
// rotated on every use with theft detection.
type Service struct {
	Keys     *KeyRing
	Sessions Sessions
	Audit    *audit.Writer
	Metrics  Metrics
	// SuccessorKey derives a rotated refresh token from the one it replaces (HMAC), so
	// that a parallel request within the grace window gets the same successor without
	// any token being stored. 32 bytes, derived from the master key.
	SuccessorKey []byte
	AccessTTL    time.Duration // default DefaultAccessTTL
	Grace        time.Duration // default DefaultRefreshGrace
	Clock        clock.Clock
}

// Client is who asks at the token endpoint, and at which site.
type Client struct {
	audit.Origin
	Site Site
}

// Grant is the token endpoint's answer.
type Grant struct {
	AccessToken    string
	ExpiresIn      time.Duration
	RefreshToken   string
	RefreshExpires time.Time
}

// Issue turns a full session (Validate never returns a pending one: a password
// without its second factor gets nothing here) into an access token and the first
// refresh token of a new family, which ends with the session.
func (s *Service) Issue(ctx context.Context, ws store.Workspace, c Client, e *session.Entry) (Grant, error) {
	now := s.Clock.Now()
	access, err := s.access(e, c.Site, now)
	if err != nil {
		return Grant{}, err
	}
	refresh := secret.NewToken()
	rt := store.RefreshToken{ID: secret.NewID(), FamilyID: secret.NewID(), SessionID: e.Session.ID, UserID: e.User.ID,
		TokenHash: secret.HashToken(refresh), CreatedAt: now, ExpiresAt: e.Session.ExpiresAt}
	if err := ws.RefreshTokens().CreateRefreshToken(ctx, rt); err != nil {
		return Grant{}, fmt.Errorf("storing refresh token: %w", err)
	}
	if err := s.record(ctx, ws, c, e, ActionIssued, audit.Success, map[string]string{"family": rt.FamilyID}); err != nil {
		return Grant{}, err
	}
	s.metric("issued")
	return Grant{AccessToken: access, ExpiresIn: s.accessTTL(), RefreshToken: refresh, RefreshExpires: rt.ExpiresAt}, nil
}

// Refresh rotates a refresh token: the presented one is spent, its successor and a new
// access token come back. A spent token presented again within the grace window (a
// parallel request) gets the same successor; later, it is theft: the whole family and
// the session are revoked (ErrRefreshReused). A token whose session has ended is
// refused and its family revoked.
func (s *Service) Refresh(ctx context.Context, ws store.Workspace, c Client, refresh string) (Grant, error) {
	if refresh == "" || len(refresh) > 128 {
		return Grant{}, ErrInvalidGrant
	}
	now := s.Clock.Now()
	hash := secret.HashToken(refresh)
	rt, err := ws.RefreshTokens().RefreshTokenByHash(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Grant{}, ErrInvalidGrant
	}
	if err != nil {
		return Grant{}, fmt.Errorf("reading refresh token: %w", err)
	}
	if !rt.RevokedAt.IsZero() || !now.Before(rt.ExpiresAt) {
		return Grant{}, ErrInvalidGrant
	}
	e, err := s.Sessions.ValidateID(ctx, ws, ws.Slug, rt.SessionID)
	if errors.Is(err, session.ErrNoSession) {
		if _, err := ws.RefreshTokens().RevokeRefreshFamily(ctx, rt.FamilyID, now); err != nil {
			return Grant{}, fmt.Errorf("revoking refresh tokens: %w", err)
		}
		rec := audit.Event(ActionRefusedGone, audit.Denied, audit.Actor{UserID: rt.UserID, SessionID: rt.SessionID}, c.Origin)
		rec.Details = map[string]string{"family": rt.FamilyID, "reason": "session_ended"}
		return Grant{}, errors.Join(ErrInvalidGrant, s.Audit.Record(ctx, ws, rec))
	}
	if err != nil {
		return Grant{}, err
	}
	successor := s.successor(refresh)
	child := store.RefreshToken{ID: secret.NewID(), FamilyID: rt.FamilyID, ParentID: rt.ID, SessionID: rt.SessionID,
		UserID: rt.UserID, TokenHash: secret.HashToken(successor), CreatedAt: now, ExpiresAt: rt.ExpiresAt}
	if rt.UsedAt.IsZero() {
		won, err := ws.RefreshTokens().RotateRefreshToken(ctx, rt.ID, child, now)
		if err != nil {
			return Grant{}, fmt.Errorf("rotating refresh token: %w", err)
		}
		if won {
			return s.refreshed(ctx, ws, c, e, rt, successor, false)
		}
		// Another request rotated it just now: read when.
		if rt, err = ws.RefreshTokens().RefreshTokenByHash(ctx, hash); err != nil {
			return Grant{}, fmt.Errorf("reading refresh token: %w", err)
		}
	}
	if rt.RevokedAt.IsZero() && !rt.UsedAt.IsZero() && now.Sub(rt.UsedAt) <= s.grace() {
		next, err := ws.RefreshTokens().RefreshTokenByHash(ctx, child.TokenHash)
		if err == nil && next.RevokedAt.IsZero() && next.ParentID == rt.ID {
			return s.refreshed(ctx, ws, c, e, rt, successor, true)
		}
	}
	return Grant{}, s.reused(ctx, ws, c, e, rt, now)
}

func (s *Service) refreshed(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, rt store.RefreshToken, successor string, grace bool) (Grant, error) {
	now := s.Clock.Now()
	access, err := s.access(e, c.Site, now)
	if err != nil {
		return Grant{}, err
	}
	details := map[string]string{"family": rt.FamilyID}
	if grace {
		details["parallel"] = "true"
	}
	if err := s.record(ctx, ws, c, e, ActionRefreshed, audit.Success, details); err != nil {
		return Grant{}, err
	}
	s.metric("refreshed")
	return Grant{AccessToken: access, ExpiresIn: s.accessTTL(), RefreshToken: successor, RefreshExpires: rt.ExpiresAt}, nil
}

// reused handles a spent token presented again: theft, or a client replaying an old
// token; either way the family and the session end.
func (s *Service) reused(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, rt store.RefreshToken, now time.Time) error {
	n, err := ws.RefreshTokens().RevokeRefreshFamily(ctx, rt.FamilyID, now)
	if err != nil {
		return fmt.Errorf("revoking refresh tokens: %w", err)
	}
	if err := s.Sessions.Revoke(ctx, ws, rt.SessionID); err != nil {
		return err
	}
	s.metric("reuse_detected")
	if err := s.record(ctx, ws, c, e, ActionReuse, audit.Failure, map[string]string{"family": rt.FamilyID, "tokens_revoked": fmt.Sprint(n)}); err != nil {
		return err
	}
	return ErrRefreshReused
}

// Revoke ends a refresh token's family and its session (a native client signing out).
// An unknown or spent token changes nothing and is not an error: the answer must not
// tell which tokens exist.
func (s *Service) Revoke(ctx context.Context, ws store.Workspace, c Client, refresh string) error {
	if refresh == "" || len(refresh) > 128 {
		return nil
	}
	rt, err := ws.RefreshTokens().RefreshTokenByHash(ctx, secret.HashToken(refresh))
	if errors.Is(err, store.ErrNotFound) || err == nil && (!rt.RevokedAt.IsZero() || !rt.UsedAt.IsZero()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading refresh token: %w", err)
	}
	now := s.Clock.Now()
	if _, err := ws.RefreshTokens().RevokeRefreshFamily(ctx, rt.FamilyID, now); err != nil {
		return fmt.Errorf("revoking refresh tokens: %w", err)
	}
	if err := s.Sessions.Revoke(ctx, ws, rt.SessionID); err != nil {
		return err
	}
	s.metric("revoked")
	rec := audit.Event(ActionRevoked, audit.Success, audit.Actor{UserID: rt.UserID, SessionID: rt.SessionID}, c.Origin)
	rec.Details = map[string]string{"family": rt.FamilyID}
	return s.Audit.Record(ctx, ws, rec)
}

// access mints an access token for the session at site.
func (s *Service) access(e *session.Entry, site Site, now time.Time) (string, error) {
	aud := site.Audience
	origin := site.Origin()
	if aud == "" {
		aud = origin
	}
	return s.Keys.sign(claimsOf(&e.Facts, origin, aud, now, s.accessTTL()), TypeAccess, now)
}

// successor derives the token that replaces refresh: HMAC-SHA256 under SuccessorKey,
// as unguessable as a random one to anyone without the key and the parent.
func (s *Service) successor(refresh string) string {
	m := hmac.New(sha256.New, s.SuccessorKey)
	m.Write([]byte("gatehouse refresh successor v1\x00"))
	m.Write([]byte(refresh))
	return b64(m.Sum(nil))
}

func (s *Service) record(ctx context.Context, ws store.Workspace, c Client, e *session.Entry, action, outcome string, details map[string]string) error {
	rec := audit.Event(action, outcome, audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}, c.Origin)
	rec.Details = details
	return s.Audit.Record(ctx, ws, rec)
}

func (s *Service) metric(event string) {
	if s.Metrics != nil {
		s.Metrics.TokenEvent(event)
	}
}

func (s *Service) accessTTL() time.Duration {
	if s.AccessTTL <= 0 {
		return DefaultAccessTTL
	}
	return s.AccessTTL
}

func (s *Service) grace() time.Duration {
	if s.Grace <= 0 {
		return DefaultRefreshGrace
	}
	return s.Grace
}
