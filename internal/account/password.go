package account

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionPasswordChanged: a user changed their own password.
const ActionPasswordChanged = "password.changed"

// ChangePassword replaces the user's password after checking the current one (which
// is the re-authentication), optionally ending their other sessions. Reset links
// still out for the old password die with it, and so does a pending e-mail change
// (authn.CancelEmailChange); the user is mailed a notice. It returns
// how many other sessions ended.
func (s *Service) ChangePassword(ctx context.Context, ws store.Workspace, me Self, current, next string, endOthers bool) (int, error) {
	u := me.user()
	if err := authn.CheckNewPassword(s.Rules, u, next); err != nil { // before the current password costs a hash
		return 0, err
	}
	if err := s.confirmPassword(ctx, ws, me, current); err != nil {
		return 0, err
	}
	hash, err := s.Passwords.Hasher.Hash(next)
	if err != nil {
		return 0, fmt.Errorf("hashing password: %w", err)
	}
	if err := ws.Users().SetPasswordHash(ctx, u.ID, hash); err != nil {
		return 0, fmt.Errorf("storing the new password: %w", err)
	}
	now := s.Clock.Now()
	if err := ws.OneTimeTokens().RevokeSubjectTokens(ctx, authn.PurposeReset, u.ID, now); err != nil {
		return 0, fmt.Errorf("ending reset links: %w", err)
	}
	if err := authn.CancelEmailChange(ctx, ws, u.ID, now); err != nil {
		return 0, err
	}
	ended := 0
	if endOthers {
		if ended, err = s.Sessions.RevokeUser(ctx, ws, u.ID, me.Session.Session.ID); err != nil {
			return 0, err
		}
	}
	if err := s.record(ctx, ws, me, ActionPasswordChanged, map[string]string{"other_sessions_ended": strconv.Itoa(ended)}); err != nil {
		return 0, err
	}
	if s.Mail != nil {
		_, _ = s.Mail.Notify(ctx, ws.TenantID(), u.Email, notify.KindPasswordChanged, notify.PasswordChanged{
			TenantName: ws.Name, UserEmail: u.Email, ChangedAt: now, IP: me.Client.IP,
			OtherSessionsEnded: endOthers, SecurityURL: me.Client.Link("/settings/security")})
	}
	return ended, nil
}
