package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of password resets.
const (
	ActionResetRequested = "password.reset_requested"
	ActionResetSent      = "password.reset_sent"
	ActionReset          = "password.reset"
)

// RequestReset answers a "forgot your password" request. Known and unknown addresses
// get the same answer after the same work: the request is throttled per address and
// audited either way, and the link is made and mailed in the background (30 minutes,
// single use) only for an active account — so neither the answer nor its timing tells
// who has an account. It returns Throttled when the address asked too often; an error
// only when a dependency failed.
func (s Links) RequestReset(ctx context.Context, ws store.Workspace, c Client, email string) (Outcome, error) {
	if c.PortalURL == "" {
		return Outcome{}, ErrNoPortalURL
	}
	if o, limited := s.throttle(ctx, ratelimit.Login, email); limited {
		return o, nil
	}
	var u store.User
	norm, err := identity.NormalizeEmail(email)
	if err == nil {
		u, err = ws.Users().UserByEmail(ctx, norm)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Outcome{}, fmt.Errorf("looking up user: %w", err)
		}
	}
	known := u.ID != "" && u.Status == store.UserActive
	rec := audit.Event(ActionResetRequested, audit.Success, audit.Actor{UserID: u.ID, Email: audit.Clip(email, 254)}, c.Origin)
	rec.Target = audit.UserTarget(u.ID)
	if !known {
		rec.Outcome, rec.Details = audit.Denied, map[string]string{"reason": ReasonUnknownUser}
		if u.ID != "" {
			rec.Details["reason"] = ReasonNotActive
		}
	}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return Outcome{}, err
	}
	if known {
		go func() { // off the answer's path: its timing must not depend on the account
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if _, err := s.SendReset(bg, ws, c, u, audit.Actor{UserID: u.ID, Email: u.Email}, false); err != nil {
				s.log().Error("sending a password reset link", zap.Error(err))
			}
		}()
	}
	return Outcome{Status: SignedIn}, nil
}

// SendReset makes a reset link for u (replacing any earlier one), mails it and audits
// it; by is who asked (the user, or an administrator with byAdmin). It returns the
// link, for an operator who hands it over another way.
func (s Links) SendReset(ctx context.Context, ws store.Workspace, c Client, u store.User, by audit.Actor, byAdmin bool) (string, error) {
	if c.PortalURL == "" {
		return "", ErrNoPortalURL
	}
	now := s.Clock.Now()
	tok, err := IssueLink(ctx, ws, PurposeReset, u.ID, ResetLinkLifetime, now)
	if err != nil {
		return "", err
	}
	link := c.PortalURL + "/password/reset?token=" + tok
	rec := audit.Event(ActionResetSent, audit.Success, by, c.Origin)
	rec.Target, rec.Details = audit.UserTarget(u.ID), map[string]string{"email": u.Email}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return "", err
	}
	s.mail(ctx, ws, u.Email, notify.KindPasswordReset, notify.PasswordReset{TenantName: ws.Name, UserEmail: u.Email,
		ResetURL: link, ExpiresAt: now.Add(ResetLinkLifetime), RequestedIP: c.IP, ByAdmin: byAdmin})
	return link, nil
}

// ResetOpen tells whether a reset link can still be used, and for whom.
func (s Links) ResetOpen(ctx context.Context, ws store.Workspace, token string) (store.User, error) {
	return linkUser(ctx, ws, PurposeReset, token, s.Clock.Now())
}

// ResetPassword sets a new password with a live reset link (once). It ends every
// session of the user, lifts a lockout (the link proved the mailbox), audits it and
// mails a notice. A password the rules refuse is an *InputError and leaves the link
// usable; a spent or expired link is ErrLinkClosed.
func (s Links) ResetPassword(ctx context.Context, ws store.Workspace, c Client, token, password string) (store.User, error) {
	now := s.Clock.Now()
	u, err := linkUser(ctx, ws, PurposeReset, token, now)
	if err != nil {
		return store.User{}, err
	}
	hash, err := NewPasswordHash(s.Hasher, s.Rules, u, password)
	if err != nil {
		return store.User{}, err
	}
	if err := useLink(ctx, ws, PurposeReset, token, now); err != nil {
		return store.User{}, err
	}
	if err := ws.Users().SetPasswordHash(ctx, u.ID, hash); err != nil {
		return store.User{}, fmt.Errorf("storing the new password: %w", err)
	}
	if err := CancelEmailChange(ctx, ws, u.ID, now); err != nil {
		return store.User{}, err
	}
	ended, err := s.Sessions.RevokeUser(ctx, ws, u.ID, "")
	if err != nil {
		return store.User{}, err
	}
	if s.Passwords.Lockout != nil && s.Passwords.Lockout.KV != nil {
		if err := s.Passwords.Lockout.Unlock(ctx, ws.TenantID(), u.Email); err != nil {
			s.log().Warn("lifting a lockout after a password reset", zap.Error(err))
		}
	}
	rec := audit.Event(ActionReset, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email}, c.Origin)
	rec.Target, rec.Details = audit.UserTarget(u.ID), map[string]string{"sessions_ended": fmt.Sprint(ended)}
	if err := s.Audit.Record(ctx, ws, rec); err != nil {
		return store.User{}, err
	}
	s.mail(ctx, ws, u.Email, notify.KindPasswordChanged, notify.PasswordChanged{TenantName: ws.Name, UserEmail: u.Email,
		ChangedAt: now, IP: c.IP, Reset: true, OtherSessionsEnded: true, SecurityURL: c.Link("/settings/security")})
	return u, nil
}

// CheckNewPassword checks a password u chose against the rules (length, and not their
// address, name or the product's name); a refusal is an *InputError.
func CheckNewPassword(rules identity.PasswordRules, u store.User, password string) error {
	if err := identity.CheckPassword(password, rules, u.Email, u.DisplayName, "gatehouse"); err != nil {
		return &InputError{Field: "password", Msg: err.Error()}
	}
	return nil
}

// NewPasswordHash checks a new password of u against the rules (an *InputError for
// the person who typed it) and hashes it.
func NewPasswordHash(h *identity.Hasher, rules identity.PasswordRules, u store.User, password string) (string, error) {
	if err := CheckNewPassword(rules, u, password); err != nil {
		return "", err
	}
	hash, err := h.Hash(password)
	if err != nil {
		return "", fmt.Errorf("hashing password: %w", err)
	}
	return hash, nil
}
