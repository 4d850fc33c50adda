package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Isolation of second factors and settings. User ids are only unique per tenant, so
// tenant B gets a user with the same id as A's: every call through B that names that
// id must act on B's user and leave A's data exactly as it was.

func testIsolationTOTP(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	newUserWithID(t, b, u.ID)
	sec := newTOTPSecret(u.ID, base)
	noErr(t, "A: PutPendingTOTP", a.TOTP().PutPendingTOTP(ctx(t), sec))
	sec.ConfirmedAt = base.Add(time.Minute)
	noErr(t, "A: ConfirmTOTP", a.TOTP().ConfirmTOTP(ctx(t), u.ID, sec.ConfirmedAt))

	_, err := b.TOTP().TOTPByUser(ctx(t), u.ID)
	wantErr(t, "B: TOTPByUser of A's user id", err, store.ErrNotFound)
	wantErr(t, "B: ConfirmTOTP", b.TOTP().ConfirmTOTP(ctx(t), u.ID, base.Add(time.Hour)), store.ErrNotFound)
	// B's own enrolment for its user of that id is not blocked by A's confirmed one.
	bsec := newTOTPSecret(u.ID, base.Add(time.Hour))
	noErr(t, "B: PutPendingTOTP", b.TOTP().PutPendingTOTP(ctx(t), bsec))
	checkTOTP(t, "B's pending secret", readTOTP(t, b, u.ID), bsec)
	noErr(t, "B: DeleteTOTP", b.TOTP().DeleteTOTP(ctx(t), u.ID, base.Add(2*time.Hour)))
	checkTOTP(t, "A's secret after B's calls", readTOTP(t, a, u.ID), sec)

	// Used steps are per tenant too: B using a step does not spend A's, nor the reverse.
	noErr(t, "A: UseTOTPStep", a.TOTP().UseTOTPStep(ctx(t), u.ID, 777, base))
	noErr(t, "B: UseTOTPStep of the step A used", b.TOTP().UseTOTPStep(ctx(t), u.ID, 777, base))
	noErr(t, "B: UseTOTPStep", b.TOTP().UseTOTPStep(ctx(t), u.ID, 778, base))
	noErr(t, "A: UseTOTPStep of the step B used", a.TOTP().UseTOTPStep(ctx(t), u.ID, 778, base))
	wantErr(t, "A: UseTOTPStep again", a.TOTP().UseTOTPStep(ctx(t), u.ID, 777, base), store.ErrConflict)
}

func testIsolationRecoveryCodes(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	codes := codeHashes(3)
	noErr(t, "A: ReplaceRecoveryCodes", a.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codes, base))

	// B has no user of that id yet: nothing to see, nothing to use.
	wantCodes(t, "B without the user", b, u.ID, 0)
	_, err := b.RecoveryCodes().UseRecoveryCode(ctx(t), u.ID, codes[0], base)
	wantErr(t, "B: UseRecoveryCode of A's code", err, store.ErrNotFound)

	newUserWithID(t, b, u.ID)
	wantCodes(t, "B with a user of the same id", b, u.ID, 0)
	_, err = b.RecoveryCodes().UseRecoveryCode(ctx(t), u.ID, codes[1], base)
	wantErr(t, "B: UseRecoveryCode of A's code", err, store.ErrNotFound)
	noErr(t, "B: ReplaceRecoveryCodes", b.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codes[:1], base))
	wantCodes(t, "B after its replacement", b, u.ID, 1)
	noErr(t, "B: DeleteRecoveryCodes", b.RecoveryCodes().DeleteRecoveryCodes(ctx(t), u.ID, base.Add(4*time.Hour)))

	wantCodes(t, "A after B's calls", a, u.ID, 3)
	useCode(t, a, u.ID, codes[0], 2)
	useCode(t, a, u.ID, codes[1], 1)
}

func testIsolationPasskeys(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	newUserWithID(t, b, u.ID)
	p := newPasskey(t, a, u.ID, base, 5)

	_, err := b.Passkeys().PasskeyByCredentialID(ctx(t), p.CredentialID)
	wantErr(t, "B: PasskeyByCredentialID of A's credential", err, store.ErrNotFound)
	list, err := b.Passkeys().ListPasskeys(ctx(t), u.ID)
	noErr(t, "B: ListPasskeys", err)
	if len(list) != 0 {
		t.Errorf("B lists %d of A's passkeys", len(list))
	}
	wantErr(t, "B: RecordPasskeyUse of A's credential", b.Passkeys().RecordPasskeyUse(ctx(t), p.CredentialID, 1000, true, base.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "B: RenamePasskey of A's passkey", b.Passkeys().RenamePasskey(ctx(t), u.ID, p.ID, "stolen"), store.ErrNotFound)
	wantErr(t, "B: DeletePasskey of A's passkey", b.Passkeys().DeletePasskey(ctx(t), u.ID, p.ID, base.Add(time.Hour)), store.ErrNotFound)
	checkPasskey(t, "A's passkey after B's calls", readPasskey(t, a, p.CredentialID), p)

	// The sign count B tried to record did not move A's forward: 6 is still accepted.
	noErr(t, "A: RecordPasskeyUse", a.Passkeys().RecordPasskeyUse(ctx(t), p.CredentialID, 6, false, base.Add(time.Hour)))
}

func testIsolationSettings(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	sa := store.SecuritySettings{Require2FA: true, Require2FASince: base, GracePeriod: 48 * time.Hour,
		RequirePasskeysForAdmins: true, UpdatedAt: base, UpdatedBy: "us-a"}
	noErr(t, "A: PutSecuritySettings", a.Settings().PutSecuritySettings(ctx(t), sa))
	checkSettings(t, "B before setting its own", readSettings(t, b), store.SecuritySettings{})

	sb := store.SecuritySettings{GracePeriod: time.Hour, UpdatedAt: base.Add(time.Hour), UpdatedBy: "us-b"}
	noErr(t, "B: PutSecuritySettings", b.Settings().PutSecuritySettings(ctx(t), sb))
	checkSettings(t, "B's settings", readSettings(t, b), sb)
	checkSettings(t, "A's settings after B's Put", readSettings(t, a), sa)
}

func testIsolationLoginHistory(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u := newUser(t, a)
	dev := "dk-" + randHex(32)
	ea := loginEvent(u.ID, base, dev, "GB")
	addLogin(t, a, ea)

	// B has no user of that id: it can neither read A's history nor write to it.
	_, err := b.LoginHistory().LastLoginEvent(ctx(t), u.ID)
	wantErr(t, "B: LastLoginEvent of A's user id", err, store.ErrNotFound)
	wantSeen(t, "B without the user", b, u.ID, dev, "GB", false, false)
	wantErr(t, "B: AddLoginEvent for A's user id", b.LoginHistory().AddLoginEvent(ctx(t),
		loginEvent(u.ID, base.Add(time.Hour), "dk-b", "FR")), store.ErrNotFound)

	// B's user of the same id has a history of its own.
	newUserWithID(t, b, u.ID)
	_, err = b.LoginHistory().LastLoginEvent(ctx(t), u.ID)
	wantErr(t, "B: LastLoginEvent with a user of the same id", err, store.ErrNotFound)
	wantSeen(t, "B with a user of the same id", b, u.ID, dev, "GB", false, false)
	eb := loginEvent(u.ID, base.Add(time.Hour), "dk-b", "FR")
	addLogin(t, b, eb)
	checkLoginEvent(t, "B's own last sign-in", lastLogin(t, b, u.ID), eb)
	wantSeen(t, "B's own device and country", b, u.ID, "dk-b", "FR", true, true)

	checkLoginEvent(t, "A's last sign-in after B's", lastLogin(t, a, u.ID), ea)
	wantSeen(t, "A after B's sign-in", a, u.ID, "dk-b", "FR", false, false)
	wantSeen(t, "A's own device and country", a, u.ID, dev, "GB", true, true)
}
