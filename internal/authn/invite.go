package authn

import (
	"context"
	"fmt"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionInviteAccepted: an invitee set their password.
const ActionInviteAccepted = "user.invite_accepted"

// InviteOpen tells whether an invitation link can still be used, and for whom.
func (s Links) InviteOpen(ctx context.Context, ws store.Workspace, token string) (store.User, error) {
	return linkUser(ctx, ws, PurposeInvite, token, s.Clock.Now())
}

// AcceptInvite lets an invitee set their password (and name) with a live invitation
// link, once, and signs them in as a correct password would — so the tenant's
// second-factor policy applies from the first sign-in. A password the rules refuse is
// an *InputError and leaves the link usable; a spent or expired link is ErrLinkClosed.
func (s Links) AcceptInvite(ctx context.Context, ws store.Workspace, c Client, token, name, password string) (Outcome, error) {
	now := s.Clock.Now()
	u, err := linkUser(ctx, ws, PurposeInvite, token, now)
	if err != nil {
		return Outcome{}, err
	}
	name = strings.TrimSpace(name)
	if len(name) > 200 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Outcome{}, &InputError{Field: "name", Msg: "The name is too long or contains control characters."}
	}
	if name != "" {
		u.DisplayName = name
	}
	hash, err := NewPasswordHash(s.Hasher, s.Rules, u, password)
	if err != nil {
		return Outcome{}, err
	}
	if err := useLink(ctx, ws, PurposeInvite, token, now); err != nil {
		return Outcome{}, err
	}
	if err := ws.Users().SetPasswordHash(ctx, u.ID, hash); err != nil {
		return Outcome{}, fmt.Errorf("storing the password: %w", err)
	}
	if name != "" {
		if err := ws.Users().SetDisplayName(ctx, u.ID, name); err != nil {
			return Outcome{}, fmt.Errorf("storing the name: %w", err)
		}
	}
	rec := audit.Event(ActionInviteAccepted, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email}, c.Origin)
	rec.Target = audit.UserTarget(u.ID)
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	return s.afterPassword(ctx, ws, c, u)
}
