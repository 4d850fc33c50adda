package account

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of the sessions page.
const (
	ActionSessionRevoked       = "session.revoked"
	ActionOtherSessionsRevoked = "session.revoked_others"
)

// ListSessions lists the user's live sessions — device, IP, location, created, last
// active, how they signed in, whether they have API access (a live refresh token) —
// with the one asking marked Current.
func (s *Service) ListSessions(ctx context.Context, ws store.Workspace, me Self) ([]session.View, error) {
	list, err := ws.Sessions().ListUserSessions(ctx, me.user().ID, s.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	views := session.Describe(list, me.user(), s.Locations, me.Session.Session.ID)
	api, err := ws.RefreshTokens().LiveRefreshSessions(ctx, me.user().ID, s.Clock.Now())
	if err != nil {
		return nil, fmt.Errorf("listing API access: %w", err)
	}
	session.MarkAPIAccess(views, api)
	return views, nil
}

// RevokeSession signs one of the user's own sessions out (ErrNoSuchSession for any id
// that is not one of their live sessions: another user's looks exactly like none).
func (s *Service) RevokeSession(ctx context.Context, ws store.Workspace, me Self, id string) error {
	sess, err := ws.Sessions().SessionByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && (sess.UserID != me.user().ID || !sess.RevokedAt.IsZero() || sess.Pending) {
		return ErrNoSuchSession
	}
	if err != nil {
		return fmt.Errorf("reading session: %w", err)
	}
	if err := s.Sessions.Revoke(ctx, ws, id); err != nil {
		return err
	}
	return s.record(ctx, ws, me, ActionSessionRevoked, map[string]string{"session": id, "current": strconv.FormatBool(id == me.Session.Session.ID)})
}

// RevokeOtherSessions signs the user out everywhere except this session and returns
// how many sessions ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, ws store.Workspace, me Self) (int, error) {
	n, err := s.Sessions.RevokeUser(ctx, ws, me.user().ID, me.Session.Session.ID)
	if err != nil {
		return 0, err
	}
	return n, s.record(ctx, ws, me, ActionOtherSessionsRevoked, map[string]string{"count": strconv.Itoa(n)})
}
