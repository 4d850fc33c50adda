package account

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Errors of e-mail changes a member can cause.
var (
	// ErrInvalidEmail: the new address is not an e-mail address.
	ErrInvalidEmail = errors.New("not an e-mail address")
	// ErrSameEmail: the new address is the one the account has.
	ErrSameEmail = errors.New("that is the account's address already")
	// ErrEmailTaken: another member of the workspace has the address (said only to
	// whoever opened the link sent to it, never when the change is asked for).
	ErrEmailTaken = errors.New("another member of the workspace uses that address")
)

// EmailChanges runs the member's correction of their e-mail address (GDPR art. 16),
// confirmed from a link sent to the new address, with the Service's clock, mail,
// audit writer and sessions: EmailChanges{Service: svc}.Request(…).
//
// Asking needs a recent re-authentication, and its answer is the same whether the
// address is free or taken. The link (a one-time token, stored hashed, valid 24
// hours; a newer request replaces it) goes to the new address, a notice to the old
// one. Opening the link shows what it confirms; only the POST of that page changes the
// address, so a mail scanner that follows links confirms nothing. A new password
// cancels a pending change (authn.CancelEmailChange).
//
// The member's sessions are kept: the change alters no credential, it was asked for
// under a fresh re-authentication in one of those sessions, the old address was told
// (and a password change stops it); ending them would sign out everywhere the very
// person confirming. Their cached copies are dropped so the new address reaches the
// upstream at once.
type EmailChanges struct{ *Service }

// PendingEmailChange is what a mailed link confirms.
type PendingEmailChange struct {
	User     store.User // the member, with their current address
	NewEmail string
	// Taken: another member of the workspace has NewEmail now; confirming is refused.
	Taken bool
}

// Request asks for the member's address to become newEmail: it mails the
// confirmation link to newEmail and a notice to the current address, and audits
// user.email_change_requested. It returns the change as stored (without the token).
// authn.ErrNoPortalURL when no link can be made.
func (s EmailChanges) Request(ctx context.Context, ws store.Workspace, me Self, newEmail string) (store.EmailChange, error) {
	if err := s.fresh(me); err != nil {
		return store.EmailChange{}, err
	}
	u := me.user()
	next, err := identity.NormalizeEmail(newEmail)
	if err != nil {
		return store.EmailChange{}, ErrInvalidEmail
	}
	if next == u.Email {
		return store.EmailChange{}, ErrSameEmail
	}
	if me.Client.PortalURL == "" {
		return store.EmailChange{}, authn.ErrNoPortalURL
	}
	now := s.Clock.Now()
	tok, err := authn.IssueLink(ctx, ws, authn.PurposeEmailChange, u.ID, authn.EmailChangeLinkLifetime, now) // ends an older link
	if err != nil {
		return store.EmailChange{}, err
	}
	c := store.EmailChange{UserID: u.ID, NewEmail: next, TokenHash: secret.HashToken(tok), CreatedAt: now,
		ExpiresAt: now.Add(authn.EmailChangeLinkLifetime)}
	if err := ws.EmailChanges().PutEmailChange(ctx, c); err != nil {
		return store.EmailChange{}, fmt.Errorf("keeping the e-mail change: %w", err)
	}
	if err := s.record(ctx, ws, me, audit.ActionEmailChangeRequested, map[string]string{"to": next}); err != nil {
		return store.EmailChange{}, err
	}
	if s.Mail != nil {
		_, _ = s.Mail.Notify(ctx, ws.TenantID(), next, notify.KindEmailChangeConfirm, notify.EmailChangeConfirm{
			TenantName: ws.Name, OldEmail: u.Email, NewEmail: next,
			ConfirmURL: me.Client.Link("/settings/email/confirm?token=" + tok), ExpiresAt: c.ExpiresAt})
		_, _ = s.Mail.Notify(ctx, ws.TenantID(), u.Email, notify.KindEmailChangeRequested, notify.EmailChangeRequested{
			TenantName: ws.Name, OldEmail: u.Email, NewEmail: next, At: now, IP: me.Client.IP, ExpiresAt: c.ExpiresAt,
			SecurityURL: me.Client.Link("/settings/security")})
	}
	c.TokenHash = nil
	return c, nil
}

// pending finds the live change a link is for: the token is live and is the one the
// member's pending change was made with (an older link never confirms a newer
// address), and the member is active. Anything else is authn.ErrLinkClosed.
func (s EmailChanges) pending(ctx context.Context, ws store.Workspace, token string) (PendingEmailChange, error) {
	if token == "" || len(token) > 128 {
		return PendingEmailChange{}, authn.ErrLinkClosed
	}
	hash := secret.HashToken(token)
	id, err := ws.OneTimeTokens().CheckOneTimeToken(ctx, authn.PurposeEmailChange, hash, s.Clock.Now())
	if errors.Is(err, store.ErrNotFound) {
		return PendingEmailChange{}, authn.ErrLinkClosed
	}
	if err != nil {
		return PendingEmailChange{}, fmt.Errorf("checking link: %w", err)
	}
	c, err := ws.EmailChanges().EmailChangeOf(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && subtle.ConstantTimeCompare(c.TokenHash, hash) != 1 {
		return PendingEmailChange{}, authn.ErrLinkClosed
	}
	if err != nil {
		return PendingEmailChange{}, fmt.Errorf("reading the e-mail change: %w", err)
	}
	u, err := ws.Users().UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Status != store.UserActive {
		return PendingEmailChange{}, authn.ErrLinkClosed
	}
	if err != nil {
		return PendingEmailChange{}, fmt.Errorf("reading the member: %w", err)
	}
	taken, err := addressTaken(ctx, ws, c.NewEmail, u.ID)
	if err != nil {
		return PendingEmailChange{}, err
	}
	return PendingEmailChange{User: u, NewEmail: c.NewEmail, Taken: taken}, nil
}

// addressTaken tells whether a member other than userID has the address, a deleted
// one not yet purged included (their address stays theirs until the purge).
func addressTaken(ctx context.Context, ws store.Workspace, email, userID string) (bool, error) {
	other, err := ws.Users().UserByEmail(ctx, email)
	if err == nil {
		return other.ID != userID, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("looking the address up: %w", err)
	}
	deleted, err := ws.Users().DeletedUsers(ctx)
	if err != nil {
		return false, fmt.Errorf("listing deleted members: %w", err)
	}
	return slices.ContainsFunc(deleted, func(d store.User) bool { return d.Email == email }), nil
}

// Open tells what a link would confirm, without using it (the page that asks to
// confirm).
func (s EmailChanges) Open(ctx context.Context, ws store.Workspace, token string) (PendingEmailChange, error) {
	return s.pending(ctx, ws, token)
}

// Confirm changes the address with a live link (once): ErrEmailTaken when another
// member has the new address (a deleted one not yet purged included; the link stays
// usable until it expires, unless the address was taken in the instant between the
// look and the change); authn.ErrLinkClosed for a used, expired or
// replaced link. The change is kept as a fulfilled rectification request and
// audited (user.email_changed, the old and the new address among the record's
// personal fields).
func (s EmailChanges) Confirm(ctx context.Context, ws store.Workspace, c authn.Client, token string) (store.User, error) {
	p, err := s.pending(ctx, ws, token)
	if err != nil {
		return store.User{}, err
	}
	if p.Taken {
		return store.User{}, ErrEmailTaken
	}
	now := s.Clock.Now()
	if _, err := ws.OneTimeTokens().ConsumeOneTimeToken(ctx, authn.PurposeEmailChange, secret.HashToken(token), now); errors.Is(err, store.ErrNotFound) {
		return store.User{}, authn.ErrLinkClosed // used meanwhile
	} else if err != nil {
		return store.User{}, fmt.Errorf("using the link: %w", err)
	}
	u, old := p.User, p.User.Email
	switch err := ws.Users().SetEmail(ctx, u.ID, p.NewEmail); {
	case errors.Is(err, store.ErrConflict): // taken between the look and the change
		return store.User{}, ErrEmailTaken
	case err != nil:
		return store.User{}, fmt.Errorf("changing the address: %w", err)
	}
	u.Email = p.NewEmail
	s.Sessions.ForgetUser(u.ID) // their cached sessions carry the old address
	if err := ws.EmailChanges().DeleteEmailChange(ctx, u.ID); err != nil {
		return store.User{}, fmt.Errorf("closing the e-mail change: %w", err)
	}
	r := store.PrivacyRequest{ID: "pr-" + secret.NewID(), UserID: u.ID, Kind: store.RequestRectification, Status: store.RequestFulfilled,
		CreatedAt: now, Deadline: now.Add(store.PrivacyRequestDeadline), ResolvedAt: now, ResolvedBy: u.ID}
	if err := ws.PrivacyRequests().CreatePrivacyRequest(ctx, r); err != nil {
		return store.User{}, fmt.Errorf("recording the rectification: %w", err)
	}
	rec := audit.Event(audit.ActionEmailChanged, audit.Success, audit.Actor{UserID: u.ID, Email: u.Email}, c.Origin)
	rec.Target = audit.UserTarget(u.ID)
	rec.Details = map[string]string{"request": r.ID, "kind": store.RequestRectification, "field": "email", "from": old, "to": u.Email}
	return u, s.Audit.Record(ctx, ws, rec)
}
