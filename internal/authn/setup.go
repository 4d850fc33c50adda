package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// PurposeSetup marks one-time tokens of first-run setup links.
const PurposeSetup = "setup"

// purposeSetupClaim is a single per-tenant token that the first completed setup spends:
// however many setup links are live (one is logged per start), only one can create
// the first owner, even when several are used at the same moment.
const purposeSetupClaim = "setup-claim"

var setupClaimHash = secret.HashToken("gatehouse setup claim")

// SetupLinkLifetime is how long a first-run setup link works.
const SetupLinkLifetime = time.Hour

// ErrSetupDone means the tenant already has users, so no setup link is issued or used.
var ErrSetupDone = errors.New("setup already done")

// IssueSetupToken creates a one-time setup token for a tenant without users.
func IssueSetupToken(ctx context.Context, tenant store.TenantHandle, clk clock.Clock) (string, error) {
	n, err := tenant.Users().CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("counting users: %w", err)
	}
	if n > 0 {
		return "", ErrSetupDone
	}
	err = tenant.OneTimeTokens().CreateOneTimeToken(ctx, purposeSetupClaim, setupClaimHash, "", clk.Now().AddDate(100, 0, 0))
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return "", fmt.Errorf("storing setup claim: %w", err)
	}
	tok := secret.NewToken()
	if err := tenant.OneTimeTokens().CreateOneTimeToken(ctx, PurposeSetup, secret.HashToken(tok), "", clk.Now().Add(SetupLinkLifetime)); err != nil {
		return "", fmt.Errorf("storing setup token: %w", err)
	}
	return tok, nil
}

// NewUser describes an account to create.
type NewUser struct {
	Email, DisplayName, Password string
	Roles                        []string
}

// InputError is a problem with what a person typed; its message is safe to show.
// Field names the input ("email", "name", "roles", "password"; "" when not one field).
type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Msg }

// PrepareUser validates n and hashes its password (the slow part), returning the record
// to store. Validation happens before any one-time token is spent.
func PrepareUser(n NewUser, hasher *identity.Hasher, rules identity.PasswordRules, clk clock.Clock) (store.User, error) {
	email, err := identity.NormalizeEmail(n.Email)
	if err != nil {
		return store.User{}, &InputError{Field: "email", Msg: "Enter a valid e-mail address."}
	}
	name := strings.TrimSpace(n.DisplayName)
	if len(name) > 200 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return store.User{}, &InputError{Field: "name", Msg: "The name is too long or contains control characters."}
	}
	if err := identity.CheckRoles(n.Roles); err != nil {
		return store.User{}, &InputError{Field: "roles", Msg: err.Error()}
	}
	var hash string
	if n.Password != "" {
		if hash, err = NewPasswordHash(hasher, rules, store.User{Email: email, DisplayName: name}, n.Password); err != nil {
			return store.User{}, err
		}
	}
	return store.User{
		ID: secret.NewID(), Email: email, DisplayName: name, PasswordHash: hash,
		Status: store.UserActive, Roles: n.Roles, CreatedAt: clk.Now(),
	}, nil
}

// SetupOpen tells whether a setup link can still be used: it is live and the tenant
// still has no user. A link that can no longer create the owner shows "no longer
// valid" rather than a form.
func SetupOpen(ctx context.Context, tenant store.TenantHandle, token string, clk clock.Clock) (bool, error) {
	if token == "" {
		return false, nil
	}
	n, err := tenant.Users().CountUsers(ctx)
	if err != nil {
		return false, fmt.Errorf("counting users: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	_, err = tenant.OneTimeTokens().CheckOneTimeToken(ctx, PurposeSetup, secret.HashToken(token), clk.Now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// CompleteSetup spends the setup token and creates the first owner. It fails with
// ErrSetupDone when the tenant already has users and with store.ErrNotFound when the
// token is unknown, used or expired.
func CompleteSetup(ctx context.Context, tenant store.TenantHandle, token string, u store.User, clk clock.Clock) error {
	n, err := tenant.Users().CountUsers(ctx)
	if err != nil {
		return fmt.Errorf("counting users: %w", err)
	}
	if n > 0 {
		return ErrSetupDone
	}
	if _, err := tenant.OneTimeTokens().ConsumeOneTimeToken(ctx, PurposeSetup, secret.HashToken(token), clk.Now()); err != nil {
		return fmt.Errorf("using setup token: %w", err)
	}
	if _, err := tenant.OneTimeTokens().ConsumeOneTimeToken(ctx, purposeSetupClaim, setupClaimHash, clk.Now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrSetupDone // another setup won the race
		}
		return fmt.Errorf("claiming setup: %w", err)
	}
	if err := tenant.Users().CreateUser(ctx, u); err != nil {
		return fmt.Errorf("creating owner: %w", err)
	}
	return nil
}
