package authn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Purposes and lifetimes of the links Gatehouse mails (their tokens are one-time
// tokens, stored by hash, each for one user).
const (
	PurposeReset       = "password_reset"
	PurposeInvite      = "invite"
	ResetLinkLifetime  = 30 * time.Minute
	InviteLinkLifetime = 7 * 24 * time.Hour
	// PurposeEmailChange: the link mailed to the new address of an e-mail change
	// (package account); a new password ends it (CancelEmailChange).
	PurposeEmailChange      = "email_change"
	EmailChangeLinkLifetime = 24 * time.Hour
)

// Links runs the flows of the links Gatehouse mails — password resets and
// invitations — on top of the sign-in it shares its parts with (an accepted
// invitation signs the invitee in).
type Links struct{ *SignIn }

// ErrLinkClosed: the link was used, has expired, or was replaced by a newer one.
var ErrLinkClosed = errors.New("link no longer valid")

// IssueLink makes a one-time token for purpose and user, replacing any earlier live one
// of the same purpose (only the newest link works), and returns the token to put in
// the link.
func IssueLink(ctx context.Context, ws store.Workspace, purpose, userID string, lifetime time.Duration, now time.Time) (string, error) {
	if err := ws.OneTimeTokens().RevokeSubjectTokens(ctx, purpose, userID, now); err != nil {
		return "", fmt.Errorf("replacing earlier links: %w", err)
	}
	tok := secret.NewToken()
	if err := ws.OneTimeTokens().CreateOneTimeToken(ctx, purpose, secret.HashToken(tok), userID, now.Add(lifetime)); err != nil {
		return "", fmt.Errorf("storing link token: %w", err)
	}
	return tok, nil
}

// linkUser returns the active user a live link is for (ErrLinkClosed otherwise),
// without using the link.
func linkUser(ctx context.Context, ws store.Workspace, purpose, token string, now time.Time) (store.User, error) {
	if token == "" || len(token) > 128 {
		return store.User{}, ErrLinkClosed
	}
	id, err := ws.OneTimeTokens().CheckOneTimeToken(ctx, purpose, secret.HashToken(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, ErrLinkClosed
	}
	if err != nil {
		return store.User{}, fmt.Errorf("checking link: %w", err)
	}
	u, err := ws.Users().UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Status != store.UserActive {
		return store.User{}, ErrLinkClosed
	}
	return u, err
}

// useLink spends a live link (exactly once, also under concurrent use).
func useLink(ctx context.Context, ws store.Workspace, purpose, token string, now time.Time) error {
	_, err := ws.OneTimeTokens().ConsumeOneTimeToken(ctx, purpose, secret.HashToken(token), now)
	if errors.Is(err, store.ErrNotFound) {
		return ErrLinkClosed
	}
	return err
}

// CancelEmailChange ends the user's pending e-mail change, link and all: a new
// password (changed or reset) cancels it, in case whoever asked for it only had the
// old one.
func CancelEmailChange(ctx context.Context, ws store.Workspace, userID string, now time.Time) error {
	if err := ws.OneTimeTokens().RevokeSubjectTokens(ctx, PurposeEmailChange, userID, now); err != nil {
		return fmt.Errorf("ending the e-mail change link: %w", err)
	}
	if err := ws.EmailChanges().DeleteEmailChange(ctx, userID); err != nil {
		return fmt.Errorf("cancelling the e-mail change: %w", err)
	}
	return nil
}
