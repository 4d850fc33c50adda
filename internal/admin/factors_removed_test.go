package admin

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	otptotp "github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// factorCrew is a crew whose MFA can seal TOTP keys.
func factorCrew(t *testing.T) *crew {
	t.Helper()
	c := newCrew(t)
	cipher, err := secret.NewFieldCipher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c.svc.MFA.Cipher = cipher
	return c
}

// enrolTOTP gives u a confirmed authenticator app and returns its secret and the
// recovery codes the enrolment made.
func (c *crew) enrolTOTP(t *testing.T, u store.User) (string, []string) {
	t.Helper()
	ctx := context.Background()
	k, err := c.svc.MFA.BeginTOTP(ctx, c.ws, u, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	codes, err := c.svc.MFA.ConfirmTOTP(ctx, c.ws, u.ID, c.totpCode(t, k.Secret))
	if err != nil || len(codes) == 0 {
		t.Fatalf("ConfirmTOTP: %d codes, %v", len(codes), err)
	}
	c.clk.Advance(time.Minute) // the next code is another time step
	return k.Secret, codes
}

func (c *crew) totpCode(t *testing.T, key string) string {
	t.Helper()
	code, err := otptotp.GenerateCode(key, c.clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func (c *crew) factors(t *testing.T, u store.User) authn.Factors {
	t.Helper()
	f, err := c.svc.MFA.Factors(context.Background(), c.ws, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestResetFactorsIsUndoneByARestore: after an administrator's reset the member's
// app, recovery codes and passkey sign nobody in and count as no factor; the owner
// sees them as removed and restores them one by one (re-authenticated, audited), and
// each works again — used recovery codes stay used.
func TestResetFactorsIsUndoneByARestore(t *testing.T) {
	t.Parallel()
	c := factorCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	mem, _ := c.member(t, "mem@acme.test", "member")
	key, codes := c.enrolTOTP(t, mem)
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, codes[0]); err != nil {
		t.Fatal(err)
	}
	pk := store.Passkey{ID: "pk-1", UserID: mem.ID, CredentialID: []byte("cred-1"), PublicKey: []byte("key"), AttestationType: "none",
		Name: "YubiKey", CreatedAt: c.clk.Now()}
	if err := c.ws.Passkeys().AddPasskey(ctx, pk); err != nil {
		t.Fatal(err)
	}
	if f := c.factors(t, mem); !f.TOTP || f.Passkeys != 1 || f.RecoveryCodes != len(codes)-1 {
		t.Fatalf("factors before the reset: %+v", f)
	}

	if _, err := c.svc.ResetFactors(ctx, c.ws, asOwner, Target{UserID: mem.ID}); err != nil {
		t.Fatal(err)
	}
	if f := c.factors(t, mem); f.Any() || f.RecoveryCodes != 0 || len(f.Methods()) != 0 {
		t.Fatalf("factors after the reset: %+v (removed factors must not count)", f)
	}
	if err := c.svc.MFA.VerifyTOTP(ctx, c.ws, mem.ID, c.totpCode(t, key)); !errors.Is(err, authn.ErrNoTOTP) {
		t.Fatalf("a removed app's code: %v, want ErrNoTOTP", err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, codes[1]); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("a removed recovery code: %v, want ErrInvalidCode", err)
	}
	if _, err := c.ws.Passkeys().PasskeyByCredentialID(ctx, pk.CredentialID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the removed passkey's credential: %v, want ErrNotFound", err)
	}

	removed, err := c.svc.FactorRestores().Removed(ctx, c.ws, asOwner, Target{UserID: mem.ID})
	if err != nil || len(removed) != 3 {
		t.Fatalf("Removed: %+v %v", removed, err)
	}
	kinds := map[string]RemovedFactor{}
	for _, r := range removed {
		kinds[r.Kind] = r
		if r.DaysLeft != 30 || !r.RemovedAt.Equal(c.clk.Now()) || r.Superseded {
			t.Errorf("removed %s: %+v", r.Kind, r)
		}
	}
	if kinds[FactorPasskey].ID != pk.ID || kinds[FactorPasskey].Name != "YubiKey" || kinds[FactorRecoveryCodes].Unused != len(codes)-1 {
		t.Fatalf("removed factors: %+v", kinds)
	}

	// Guards: a member may not look or restore; a stale session must re-authenticate;
	// an admin may not touch an owner's factors.
	memAdmin := Admin{Actor: asOwner.Actor, Roles: []string{"member"}, Verified: c.clk.Now()}
	if _, err := c.svc.FactorRestores().Removed(ctx, c.ws, memAdmin, Target{UserID: mem.ID}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a member listing removed factors: %v", err)
	}
	stale := asOwner
	stale.Verified = c.clk.Now().Add(-time.Hour)
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, stale, Target{UserID: mem.ID}, FactorTOTP, ""); !errors.Is(err, authn.ErrReauthRequired) {
		t.Fatalf("restoring without a recent re-authentication: %v", err)
	}
	owner2, _ := c.member(t, "owner2@acme.test", "owner")
	_, asAdmin := c.member(t, "admin@acme.test", "admin")
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asAdmin, Target{UserID: owner2.ID}, FactorTOTP, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("an admin restoring an owner's factor: %v", err)
	}
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, "sms", ""); !errors.Is(err, ErrNoSuchFactor) {
		t.Fatalf("restoring an unknown kind: %v", err)
	}
	if f := c.factors(t, mem); f.Any() {
		t.Fatalf("factors after the refused restores: %+v", f)
	}

	// Day 29: each comes back.
	c.clk.Advance(29 * 24 * time.Hour)
	asOwner.Verified = c.clk.Now()
	for _, r := range removed {
		got, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, r.Kind, r.ID)
		if err != nil || got.Kind != r.Kind {
			t.Fatalf("restoring %s on day 29: %+v %v", r.Kind, got, err)
		}
		last := c.lastRecord(t)
		if last.Action != ActionFactorRestored || last.Target != "user:"+mem.ID || last.ActorID != asOwner.UserID ||
			last.Details["kind"] != r.Kind || last.Details["email"] != mem.Email {
			t.Fatalf("audit record of restoring %s: %+v", r.Kind, last)
		}
		// The member is told, whoever restored it: they may have removed it because it was stolen.
		c.mail.mu.Lock()
		m := c.mail.sent[len(c.mail.sent)-1]
		c.mail.mu.Unlock()
		notice, ok := m.data.(notify.FactorRestored)
		if m.to != mem.Email || m.kind != notify.KindFactorRestored || !ok || notice.Factor != r.Kind || notice.By != asOwner.Email ||
			notice.PasskeyName != r.Name || !notice.RemovedAt.Equal(r.RemovedAt) {
			t.Fatalf("notice of restoring %s: %+v", r.Kind, m)
		}
	}
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, FactorPasskey, pk.ID); !errors.Is(err, ErrNoSuchFactor) {
		t.Fatalf("restoring the passkey twice: %v", err)
	}
	// The app is live again: nothing to restore, and a live app in its place.
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, FactorTOTP, ""); !errors.Is(err, ErrFactorSuperseded) {
		t.Fatalf("restoring the app twice: %v", err)
	}
	if f := c.factors(t, mem); !f.TOTP || f.Passkeys != 1 || f.RecoveryCodes != len(codes)-1 {
		t.Fatalf("factors after the restore: %+v", f)
	}
	if err := c.svc.MFA.VerifyTOTP(ctx, c.ws, mem.ID, c.totpCode(t, key)); err != nil {
		t.Fatalf("the restored app's code: %v", err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, codes[0]); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("a code used before the reset, after the restore: %v", err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, codes[1]); err != nil {
		t.Fatalf("a restored recovery code: %v", err)
	}
	if _, err := c.ws.Passkeys().PasskeyByCredentialID(ctx, pk.CredentialID); err != nil {
		t.Fatalf("the restored passkey: %v", err)
	}
}

// TestSupersededFactorsStayRemoved: an app enrolled again, or new recovery codes,
// take the removed one's place; a restore is refused with ErrFactorSuperseded and the
// new factor keeps working, the old never does.
func TestSupersededFactorsStayRemoved(t *testing.T) {
	t.Parallel()
	c := factorCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	mem, _ := c.member(t, "mem@acme.test", "member")
	oldKey, oldCodes := c.enrolTOTP(t, mem)
	if _, err := c.svc.ResetFactors(ctx, c.ws, asOwner, Target{UserID: mem.ID}); err != nil {
		t.Fatal(err)
	}
	newKey, newCodes := c.enrolTOTP(t, mem) // the member enrols again after the reset

	removed, err := c.svc.FactorRestores().Removed(ctx, c.ws, asOwner, Target{UserID: mem.ID})
	if err != nil || len(removed) != 1 || removed[0].Kind != FactorRecoveryCodes || !removed[0].Superseded {
		t.Fatalf("Removed after a new enrolment: %+v %v (the app overwritten, the codes superseded)", removed, err)
	}
	for _, kind := range []string{FactorTOTP, FactorRecoveryCodes} {
		if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, kind, ""); !errors.Is(err, ErrFactorSuperseded) {
			t.Fatalf("restoring the superseded %s: %v, want ErrFactorSuperseded", kind, err)
		}
	}
	if err := c.svc.MFA.VerifyTOTP(ctx, c.ws, mem.ID, c.totpCode(t, oldKey)); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("the old app's code: %v, want ErrInvalidCode", err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, oldCodes[0]); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("an old recovery code: %v", err)
	}
	if err := c.svc.MFA.VerifyTOTP(ctx, c.ws, mem.ID, c.totpCode(t, newKey)); err != nil {
		t.Fatalf("the new app's code: %v", err)
	}

	// Regenerated codes: the old set never works again and cannot come back.
	regen, err := c.svc.MFA.RegenerateRecoveryCodes(ctx, c.ws, mem.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, newCodes[0]); !errors.Is(err, authn.ErrInvalidCode) {
		t.Fatalf("a code of the regenerated-away set: %v", err)
	}
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: mem.ID}, FactorRecoveryCodes, ""); !errors.Is(err, ErrFactorSuperseded) {
		t.Fatalf("restoring a regenerated-away set: %v", err)
	}
	if _, err := c.svc.MFA.UseRecoveryCode(ctx, c.ws, mem.ID, regen[0]); err != nil {
		t.Fatalf("a new code: %v", err)
	}
}

// TestRemovedFactorsPurgedAfterTheWindow: the purge job deletes factors removed more
// than 30 days ago (not those removed later), after which they cannot be restored.
func TestRemovedFactorsPurgedAfterTheWindow(t *testing.T) {
	t.Parallel()
	c := factorCrew(t)
	ctx := context.Background()
	_, asOwner := c.member(t, "owner@acme.test", "owner")
	early, _ := c.member(t, "early@acme.test", "member")
	late, _ := c.member(t, "late@acme.test", "member")
	c.enrolTOTP(t, early)
	c.enrolTOTP(t, late)
	if err := c.svc.MFA.DisableTOTP(ctx, c.ws, early.ID); err != nil {
		t.Fatal(err)
	}
	job := &MemberPurger{Store: c.st, Service: c.svc, Leases: c.st.Maintenance(), Holder: "test"}
	c.clk.Advance(2 * 24 * time.Hour)
	if err := c.svc.MFA.DisableTOTP(ctx, c.ws, late.ID); err != nil {
		t.Fatal(err)
	}

	c.clk.Advance(29*24*time.Hour + time.Hour) // early: day 31, late: day 29
	asOwner.Verified = c.clk.Now()
	if ran, n, err := job.Once(ctx); err != nil || !ran || n != 1 {
		t.Fatalf("purge: ran %v, %d purged, %v, want the one app removed 31 days ago", ran, n, err)
	}
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: early.ID}, FactorTOTP, ""); !errors.Is(err, ErrNoSuchFactor) {
		t.Fatalf("restoring a purged app: %v", err)
	}
	if r, err := c.svc.FactorRestores().Removed(ctx, c.ws, asOwner, Target{UserID: early.ID}); err != nil || len(r) != 0 {
		t.Fatalf("removed factors after the purge: %+v %v", r, err)
	}
	if r, err := c.svc.FactorRestores().Removed(ctx, c.ws, asOwner, Target{UserID: late.ID}); err != nil || len(r) != 1 || r[0].DaysLeft != 1 {
		t.Fatalf("the app removed 29 days ago: %+v %v", r, err)
	}
	if _, err := c.svc.FactorRestores().Restore(ctx, c.ws, asOwner, Target{UserID: late.ID}, FactorTOTP, ""); err != nil {
		t.Fatalf("restoring on day 29: %v", err)
	}
}
