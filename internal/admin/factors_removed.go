package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionFactorRestored: an owner or admin restored one of a member's removed second
// factors (issue 12 §4); details name the kind, the passkey and when it was removed.
const ActionFactorRestored = "mfa.factor_restored"

// Kinds of removed factor.
const (
	FactorTOTP          = "totp"
	FactorPasskey       = "passkey"
	FactorRecoveryCodes = "recovery_codes"
)

var (
	// ErrNoSuchFactor: the member has no such removed factor within the restore window
	// (restored meanwhile, purged, or never there).
	ErrNoSuchFactor = errors.New("no such removed factor")
	// ErrFactorSuperseded: a live factor of the kind took the removed one's place (the
	// member enrolled an authenticator app again, or has a newer set of recovery codes;
	// or the app was restored already), so it stays removed.
	ErrFactorSuperseded = errors.New("the removed factor was superseded by a newer one")
)

// RemovedFactor is one of a member's removed second factors, restorable until
// RestorableUntil.
type RemovedFactor struct {
	Kind      string // FactorTOTP, FactorPasskey or FactorRecoveryCodes
	ID        string // the passkey's id; "" for the other kinds
	Name      string // the passkey's name
	Unused    int    // recovery codes: how many were unused at the removal
	CreatedAt time.Time
	RemovedAt time.Time
	// RestorableUntil ends the restore window; DaysLeft counts its days, a started
	// day counting as one.
	RestorableUntil time.Time
	DaysLeft        int
	// Superseded: a newer factor of the kind took its place; it cannot be restored.
	Superseded bool
}

// FactorRestores are the listing, restore and purge of members' removed second
// factors. Removing a factor (the member on their security page, an administrator's
// reset, regenerated recovery codes) keeps it for store.RemovedFactorWindow, unusable
// and uncounted; an owner or admin may bring it back meanwhile, which undoes a
// mistaken reset without the member enrolling again.
type FactorRestores struct{ s *Service }

// FactorRestores returns the removed-factor use cases.
func (s *Service) FactorRestores() FactorRestores { return FactorRestores{s} }

// Removed lists the member's removed factors still within the restore window, most
// recently removed first. Owners and admins see them for the members they manage
// (no re-authentication needed to look).
func (f FactorRestores) Removed(ctx context.Context, ws store.Workspace, by Admin, t Target) ([]RemovedFactor, error) {
	s := f.s
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	u, err := s.find(ctx, ws, t)
	if err != nil {
		return nil, err
	}
	if !mayManage(by, u) {
		return nil, ErrForbidden
	}
	return f.removed(ctx, ws, u.ID)
}

// removed reads the member's removed factors within the window.
func (f FactorRestores) removed(ctx context.Context, ws store.Workspace, userID string) ([]RemovedFactor, error) {
	now := f.s.Clock.Now()
	var out []RemovedFactor
	add := func(rf RemovedFactor) {
		rf.RestorableUntil = rf.RemovedAt.Add(store.RemovedFactorWindow)
		if left := rf.RestorableUntil.Sub(now); left > 0 {
			rf.DaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
			out = append(out, rf)
		}
	}
	sec, err := ws.TOTP().RemovedTOTP(ctx, userID)
	switch {
	case err == nil:
		add(RemovedFactor{Kind: FactorTOTP, CreatedAt: sec.ConfirmedAt, RemovedAt: sec.DeletedAt})
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("reading the removed authenticator app: %w", err)
	}
	keys, err := ws.Passkeys().RemovedPasskeys(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("reading removed passkeys: %w", err)
	}
	for _, k := range keys {
		add(RemovedFactor{Kind: FactorPasskey, ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, RemovedAt: k.DeletedAt})
	}
	codes, err := ws.RecoveryCodes().RemovedRecoveryCodes(ctx, userID)
	switch {
	case err == nil:
		add(RemovedFactor{Kind: FactorRecoveryCodes, Unused: codes.Unused, RemovedAt: codes.DeletedAt, Superseded: codes.Superseded})
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("reading removed recovery codes: %w", err)
	}
	// The authenticator app is never superseded while it is listed: a new enrolment
	// overwrites it. Most recent first.
	slices.SortStableFunc(out, func(a, b RemovedFactor) int { return b.RemovedAt.Compare(a.RemovedAt) })
	return out, nil
}

// Restore brings back one of the member's removed factors (kind, and id for a
// passkey) within the restore window: it signs in again as before, with its used
// recovery codes still used. Like every change to a member's factors it needs an
// owner or admin (admins restore members and managers only) and a recent
// re-authentication, and it is audited. A factor that a newer one superseded is
// ErrFactorSuperseded; one restored meanwhile, purged, or past the window
// ErrNoSuchFactor.
func (f FactorRestores) Restore(ctx context.Context, ws store.Workspace, by Admin, t Target, kind, id string) (RemovedFactor, error) {
	s := f.s
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return RemovedFactor{}, err
	}
	list, err := f.removed(ctx, ws, u.ID)
	if err != nil {
		return RemovedFactor{}, err
	}
	var rf RemovedFactor
	found := false
	for _, r := range list {
		if r.Kind == kind && (kind != FactorPasskey || r.ID == id) {
			rf, found = r, true
			break
		}
	}
	if !found {
		if kind == FactorTOTP {
			// A new enrolment overwrote the removed app (or a restore made it live
			// already): say so rather than "no such factor".
			if _, err := ws.TOTP().TOTPByUser(ctx, u.ID); err == nil {
				return RemovedFactor{}, ErrFactorSuperseded
			}
		}
		return RemovedFactor{}, ErrNoSuchFactor
	}
	// The store re-checks the window in the statement that restores: a purge or a
	// restore racing this one leaves ErrNotFound, never a factor past its window.
	since := s.Clock.Now().Add(-store.RemovedFactorWindow)
	switch kind {
	case FactorTOTP:
		err = ws.TOTP().RestoreTOTP(ctx, u.ID, since)
	case FactorPasskey:
		err = ws.Passkeys().RestorePasskey(ctx, u.ID, id, since)
	case FactorRecoveryCodes:
		err = ws.RecoveryCodes().RestoreRecoveryCodes(ctx, u.ID, since)
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		return RemovedFactor{}, ErrFactorSuperseded
	case errors.Is(err, store.ErrNotFound):
		return RemovedFactor{}, ErrNoSuchFactor
	case err != nil:
		return RemovedFactor{}, fmt.Errorf("restoring a factor: %w", err)
	}
	details := map[string]string{"email": u.Email, "kind": kind, "removed_at": rf.RemovedAt.UTC().Format(time.RFC3339)}
	if kind == FactorPasskey {
		details["passkey"] = id
	}
	rf.Superseded = false
	if err := s.record(ctx, ws, by, ActionFactorRestored, audit.UserTarget(u.ID), details); err != nil {
		return rf, err
	}
	if s.Mail != nil { // the member hears of it: they may have removed it because it was stolen
		who := by.Email
		if by.UserID == audit.CLI.UserID {
			who = "the operator"
		}
		security := ""
		if by.PortalURL != "" {
			security = by.PortalURL + "/settings/security"
		}
		if _, err := s.Mail.Notify(ctx, ws.TenantID(), u.Email, notify.KindFactorRestored, notify.FactorRestored{
			TenantName: ws.Name, UserEmail: u.Email, Factor: kind, PasskeyName: rf.Name, By: who,
			RemovedAt: rf.RemovedAt, RestoredAt: s.Clock.Now(), SecurityURL: security}); err != nil {
			return rf, fmt.Errorf("queueing the notice to the member: %w", err)
		}
	}
	return rf, nil
}

// Purge deletes for good the workspace's factors removed longer ago than the restore
// window (the purge job runs it for every workspace; each delete is one statement, so
// instances racing each other delete every row once). It returns how many factors
// (authenticator apps, passkeys, recovery codes) it deleted.
func (f FactorRestores) Purge(ctx context.Context, ws store.Workspace) (int, error) {
	cutoff := f.s.Clock.Now().Add(-store.RemovedFactorWindow)
	nt, err := ws.TOTP().PurgeRemovedTOTP(ctx, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purging removed authenticator apps: %w", err)
	}
	np, err := ws.Passkeys().PurgeRemovedPasskeys(ctx, cutoff)
	if err != nil {
		return int(nt), fmt.Errorf("purging removed passkeys: %w", err)
	}
	nr, err := ws.RecoveryCodes().PurgeRemovedRecoveryCodes(ctx, cutoff)
	if err != nil {
		return int(nt + np), fmt.Errorf("purging removed recovery codes: %w", err)
	}
	return int(nt + np + nr), nil
}
