package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Soft delete of second factors (issue 12 §4): a removed authenticator app, passkey
// or recovery-code set is kept for the restore window, but every query on live
// factors leaves it out: it signs nobody in and counts as no factor. A restore
// within the window brings it back unless something newer took its place; the purge
// removes it after the window.
var softDeleteFactorTests = []test{
	{"TOTPHiddenAndRestored", testRemovedTOTP},
	{"TOTPSupersededByEnrolment", testRemovedTOTPSuperseded},
	{"RecoveryCodesHiddenAndRestored", testRemovedRecoveryCodes},
	{"RecoveryCodesReplacedNeverComeBack", testReplacedRecoveryCodes},
	{"RecoveryCodesRestoreRacesReplace", testRecoveryRestoreRace},
	{"PasskeyHiddenAndRestored", testRemovedPasskey},
	{"PasskeyRegisteredAgain", testRemovedPasskeyRegisteredAgain},
	{"Purge", testRemovedFactorsPurge},
	{"OtherTenant", testRemovedFactorsOtherTenant},
}

// removedAt is when the tests remove factors; the restore window of such a factor
// starts there.
var removedAt = base.Add(24 * time.Hour)

// confirmedTOTP enrols a confirmed TOTP secret for userID.
func confirmedTOTP(t *testing.T, h store.TenantHandle, userID string) store.TOTPSecret {
	t.Helper()
	sec := newTOTPSecret(userID, base)
	noErr(t, "PutPendingTOTP", h.TOTP().PutPendingTOTP(ctx(t), sec))
	sec.ConfirmedAt = base.Add(time.Minute)
	noErr(t, "ConfirmTOTP", h.TOTP().ConfirmTOTP(ctx(t), userID, sec.ConfirmedAt))
	return sec
}

// testRemovedTOTP: a removed confirmed secret is not the user's secret any more (not
// read, not confirmable), RemovedTOTP shows it with the time of removal (a second
// removal keeps it); a restore from before that time brings it back as it was, one
// from after it finds nothing. A pending secret is dropped, not kept.
func testRemovedTOTP(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, pending, none := newUser(t, h), newUser(t, h), newUser(t, h)
	totp := h.TOTP()
	sec := confirmedTOTP(t, h, u.ID)

	noErr(t, "DeleteTOTP", totp.DeleteTOTP(ctx(t), u.ID, removedAt))
	_, err := totp.TOTPByUser(ctx(t), u.ID)
	wantErr(t, "TOTPByUser of a removed secret", err, store.ErrNotFound)
	wantErr(t, "ConfirmTOTP of a removed secret", totp.ConfirmTOTP(ctx(t), u.ID, removedAt), store.ErrNotFound)
	noErr(t, "DeleteTOTP again", totp.DeleteTOTP(ctx(t), u.ID, removedAt.Add(time.Hour)))
	got, err := totp.RemovedTOTP(ctx(t), u.ID)
	noErr(t, "RemovedTOTP", err)
	checkTOTP(t, "the removed secret", got, sec)
	sameTime(t, "the removed secret's DeletedAt", got.DeletedAt, removedAt)

	wantErr(t, "RestoreTOTP with a window that starts after the removal",
		totp.RestoreTOTP(ctx(t), u.ID, removedAt.Add(time.Nanosecond)), store.ErrNotFound)
	wantErr(t, "RestoreTOTP of a user with nothing removed", totp.RestoreTOTP(ctx(t), none.ID, base), store.ErrNotFound)
	noErr(t, "RestoreTOTP", totp.RestoreTOTP(ctx(t), u.ID, removedAt))
	back := readTOTP(t, h, u.ID)
	checkTOTP(t, "the restored secret", back, sec)
	if !back.DeletedAt.IsZero() {
		t.Errorf("the restored secret has DeletedAt %v", back.DeletedAt)
	}
	_, err = totp.RemovedTOTP(ctx(t), u.ID)
	wantErr(t, "RemovedTOTP after the restore", err, store.ErrNotFound)
	wantErr(t, "RestoreTOTP again (live now)", totp.RestoreTOTP(ctx(t), u.ID, base), store.ErrConflict)
	wantErr(t, "PutPendingTOTP over the restored confirmed secret", totp.PutPendingTOTP(ctx(t), newTOTPSecret(u.ID, base)), store.ErrConflict)

	// A pending secret was never a factor: removing it leaves nothing to restore.
	noErr(t, "PutPendingTOTP", totp.PutPendingTOTP(ctx(t), newTOTPSecret(pending.ID, base)))
	noErr(t, "DeleteTOTP of a pending secret", totp.DeleteTOTP(ctx(t), pending.ID, removedAt))
	_, err = totp.TOTPByUser(ctx(t), pending.ID)
	wantErr(t, "TOTPByUser of a removed pending secret", err, store.ErrNotFound)
	_, err = totp.RemovedTOTP(ctx(t), pending.ID)
	wantErr(t, "RemovedTOTP of a removed pending secret", err, store.ErrNotFound)
}

// testRemovedTOTPSuperseded: a new enrolment (even one not confirmed yet) replaces
// the removed secret; from then on a restore is refused as superseded and the old
// secret is gone.
func testRemovedTOTPSuperseded(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	totp := h.TOTP()
	confirmedTOTP(t, h, u.ID)
	noErr(t, "DeleteTOTP", totp.DeleteTOTP(ctx(t), u.ID, removedAt))

	again := newTOTPSecret(u.ID, removedAt.Add(time.Hour))
	noErr(t, "PutPendingTOTP after the removal", totp.PutPendingTOTP(ctx(t), again))
	checkTOTP(t, "the new pending secret", readTOTP(t, h, u.ID), again)
	_, err := totp.RemovedTOTP(ctx(t), u.ID)
	wantErr(t, "RemovedTOTP after a new enrolment", err, store.ErrNotFound)
	wantErr(t, "RestoreTOTP over a pending enrolment", totp.RestoreTOTP(ctx(t), u.ID, base), store.ErrConflict)
	checkTOTP(t, "the pending secret after the refused restore", readTOTP(t, h, u.ID), again)

	again.ConfirmedAt = removedAt.Add(2 * time.Hour)
	noErr(t, "ConfirmTOTP of the new secret", totp.ConfirmTOTP(ctx(t), u.ID, again.ConfirmedAt))
	wantErr(t, "RestoreTOTP over a confirmed enrolment", totp.RestoreTOTP(ctx(t), u.ID, base), store.ErrConflict)
	checkTOTP(t, "the new secret after the refused restore", readTOTP(t, h, u.ID), again)
}

// testRemovedRecoveryCodes: a removed set counts as no codes and none of its codes
// works; it is listed with its unused codes; a restore brings it back with the used
// ones still used; a second removal without live codes keeps the removed set.
func testRemovedRecoveryCodes(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	rc := h.RecoveryCodes()
	codes := codeHashes(4)
	noErr(t, "ReplaceRecoveryCodes", rc.ReplaceRecoveryCodes(ctx(t), u.ID, codes, base))
	useCode(t, h, u.ID, codes[0], 3)
	_, err := rc.RemovedRecoveryCodes(ctx(t), u.ID)
	wantErr(t, "RemovedRecoveryCodes before a removal", err, store.ErrNotFound)

	noErr(t, "DeleteRecoveryCodes", rc.DeleteRecoveryCodes(ctx(t), u.ID, removedAt))
	wantCodes(t, "after the removal", h, u.ID, 0)
	for i, c := range codes[1:] {
		_, err := rc.UseRecoveryCode(ctx(t), u.ID, c, removedAt.Add(time.Minute))
		wantErr(t, "UseRecoveryCode of a removed code "+string(rune('1'+i)), err, store.ErrNotFound)
	}
	noErr(t, "DeleteRecoveryCodes again (nothing live)", rc.DeleteRecoveryCodes(ctx(t), u.ID, removedAt.Add(time.Hour)))
	set, err := rc.RemovedRecoveryCodes(ctx(t), u.ID)
	noErr(t, "RemovedRecoveryCodes", err)
	if set.Unused != 3 || set.Superseded {
		t.Errorf("the removed set: %+v, want 3 unused codes, not superseded", set)
	}
	sameTime(t, "the removed set's DeletedAt", set.DeletedAt, removedAt)

	wantErr(t, "RestoreRecoveryCodes with a window after the removal",
		rc.RestoreRecoveryCodes(ctx(t), u.ID, removedAt.Add(time.Nanosecond)), store.ErrNotFound)
	noErr(t, "RestoreRecoveryCodes", rc.RestoreRecoveryCodes(ctx(t), u.ID, removedAt))
	wantCodes(t, "after the restore", h, u.ID, 3)
	_, err = rc.UseRecoveryCode(ctx(t), u.ID, codes[0], removedAt.Add(2*time.Hour))
	wantErr(t, "UseRecoveryCode of a code used before the removal", err, store.ErrNotFound)
	useCode(t, h, u.ID, codes[1], 2)
	_, err = rc.RemovedRecoveryCodes(ctx(t), u.ID)
	wantErr(t, "RemovedRecoveryCodes after the restore", err, store.ErrNotFound)
	wantErr(t, "RestoreRecoveryCodes again (live now)", rc.RestoreRecoveryCodes(ctx(t), u.ID, base), store.ErrConflict)
	wantErr(t, "RestoreRecoveryCodes of an unknown user", rc.RestoreRecoveryCodes(ctx(t), "us-missing", base), store.ErrNotFound)
}

// testReplacedRecoveryCodes: a set replaced by a new one never works again. Kept
// removed, it cannot be restored while the new set is live, and a later removal of
// the new set deletes it, so a restore brings back the newest set only.
func testReplacedRecoveryCodes(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	rc := h.RecoveryCodes()
	old, fresh := codeHashes(3), codeHashes(2)
	noErr(t, "ReplaceRecoveryCodes", rc.ReplaceRecoveryCodes(ctx(t), u.ID, old, base))
	noErr(t, "ReplaceRecoveryCodes (regenerate)", rc.ReplaceRecoveryCodes(ctx(t), u.ID, fresh, removedAt))
	wantCodes(t, "after regenerating", h, u.ID, 2)
	_, err := rc.UseRecoveryCode(ctx(t), u.ID, old[0], removedAt.Add(time.Minute))
	wantErr(t, "UseRecoveryCode of a replaced code", err, store.ErrNotFound)
	set, err := rc.RemovedRecoveryCodes(ctx(t), u.ID)
	noErr(t, "RemovedRecoveryCodes after regenerating", err)
	if set.Unused != 3 || !set.Superseded {
		t.Errorf("the replaced set: %+v, want 3 unused codes, superseded", set)
	}
	wantErr(t, "RestoreRecoveryCodes of a replaced set", rc.RestoreRecoveryCodes(ctx(t), u.ID, base), store.ErrConflict)

	// An administrator's reset removes the new set; the replaced one is gone then.
	noErr(t, "DeleteRecoveryCodes (reset)", rc.DeleteRecoveryCodes(ctx(t), u.ID, removedAt.Add(time.Hour)))
	set, err = rc.RemovedRecoveryCodes(ctx(t), u.ID)
	noErr(t, "RemovedRecoveryCodes after the reset", err)
	if set.Unused != 2 {
		t.Errorf("the removed set after the reset has %d unused codes, want 2 (the newest set only)", set.Unused)
	}
	noErr(t, "RestoreRecoveryCodes after the reset", rc.RestoreRecoveryCodes(ctx(t), u.ID, base))
	wantCodes(t, "after restoring", h, u.ID, 2)
	for _, c := range old {
		_, err := rc.UseRecoveryCode(ctx(t), u.ID, c, removedAt.Add(2*time.Hour))
		wantErr(t, "UseRecoveryCode of a replaced code after the restore", err, store.ErrNotFound)
	}
	useCode(t, h, u.ID, fresh[0], 1)

	// Replacing after a reset: the new set supersedes the removed one.
	noErr(t, "DeleteRecoveryCodes", rc.DeleteRecoveryCodes(ctx(t), u.ID, removedAt.Add(3*time.Hour)))
	noErr(t, "ReplaceRecoveryCodes after a reset", rc.ReplaceRecoveryCodes(ctx(t), u.ID, codeHashes(5), removedAt.Add(4*time.Hour)))
	wantErr(t, "RestoreRecoveryCodes over the new set", rc.RestoreRecoveryCodes(ctx(t), u.ID, base), store.ErrConflict)
	wantCodes(t, "the new set after the refused restore", h, u.ID, 5)
	_, err = rc.UseRecoveryCode(ctx(t), u.ID, fresh[1], removedAt.Add(5*time.Hour))
	wantErr(t, "UseRecoveryCode of a code of the superseded set", err, store.ErrNotFound)
}

// testRecoveryRestoreRace: a restore racing a regeneration never leaves two live
// sets: either the restore lost (refused, the new set alone is live) or it won and
// the regeneration replaced the restored set.
func testRecoveryRestoreRace(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	for round := range 5 {
		u := newUser(t, h)
		rc := h.RecoveryCodes()
		noErr(t, "ReplaceRecoveryCodes", rc.ReplaceRecoveryCodes(ctx(t), u.ID, codeHashes(3), base))
		noErr(t, "DeleteRecoveryCodes", rc.DeleteRecoveryCodes(ctx(t), u.ID, removedAt))
		errs := raceEach(
			func() error { return rc.RestoreRecoveryCodes(t.Context(), u.ID, base) },
			func() error {
				return rc.ReplaceRecoveryCodes(t.Context(), u.ID, codeHashes(2), removedAt.Add(time.Hour))
			},
		)
		if errs[0] != nil && !errors.Is(errs[0], store.ErrConflict) || errs[1] != nil {
			t.Fatalf("round %d: restore %v, replace %v", round, errs[0], errs[1])
		}
		wantCodes(t, "after the race", h, u.ID, 2)
	}
}

// testRemovedPasskey: a removed passkey is not listed, not found by its credential
// id, cannot record a use (an assertion with it fails), be renamed or removed again;
// RemovedPasskeys lists it; a restore brings it back as it was.
func testRemovedPasskey(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	pk := h.Passkeys()
	p := newPasskey(t, h, u.ID, base, 5)
	keep := newPasskey(t, h, u.ID, base.Add(time.Minute), 0)

	noErr(t, "DeletePasskey", pk.DeletePasskey(ctx(t), u.ID, p.ID, removedAt))
	list, err := pk.ListPasskeys(ctx(t), u.ID)
	noErr(t, "ListPasskeys", err)
	if len(list) != 1 || list[0].ID != keep.ID {
		t.Errorf("ListPasskeys after a removal: %+v, want only %s", list, keep.ID)
	}
	_, err = pk.PasskeyByCredentialID(ctx(t), p.CredentialID)
	wantErr(t, "PasskeyByCredentialID of a removed passkey", err, store.ErrNotFound)
	wantErr(t, "RecordPasskeyUse of a removed passkey", pk.RecordPasskeyUse(ctx(t), p.CredentialID, 6, false, removedAt), store.ErrNotFound)
	wantErr(t, "RenamePasskey of a removed passkey", pk.RenamePasskey(ctx(t), u.ID, p.ID, "Back"), store.ErrNotFound)
	wantErr(t, "DeletePasskey again", pk.DeletePasskey(ctx(t), u.ID, p.ID, removedAt.Add(time.Hour)), store.ErrNotFound)
	removed, err := pk.RemovedPasskeys(ctx(t), u.ID)
	noErr(t, "RemovedPasskeys", err)
	if len(removed) != 1 {
		t.Fatalf("RemovedPasskeys: %+v, want one", removed)
	}
	checkPasskey(t, "the removed passkey", removed[0], p)
	sameTime(t, "the removed passkey's DeletedAt", removed[0].DeletedAt, removedAt)

	wantErr(t, "RestorePasskey by another user", pk.RestorePasskey(ctx(t), other.ID, p.ID, base), store.ErrNotFound)
	wantErr(t, "RestorePasskey with a window after the removal", pk.RestorePasskey(ctx(t), u.ID, p.ID, removedAt.Add(time.Nanosecond)), store.ErrNotFound)
	wantErr(t, "RestorePasskey of a live passkey", pk.RestorePasskey(ctx(t), u.ID, keep.ID, base), store.ErrNotFound)
	noErr(t, "RestorePasskey", pk.RestorePasskey(ctx(t), u.ID, p.ID, removedAt))
	checkPasskey(t, "the restored passkey", readPasskey(t, h, p.CredentialID), p)
	noErr(t, "RecordPasskeyUse of the restored passkey", pk.RecordPasskeyUse(ctx(t), p.CredentialID, 6, false, removedAt.Add(time.Hour)))
	if removed, err = pk.RemovedPasskeys(ctx(t), u.ID); err != nil || len(removed) != 0 {
		t.Errorf("RemovedPasskeys after the restore: %+v, %v", removed, err)
	}
	wantErr(t, "RestorePasskey again", pk.RestorePasskey(ctx(t), u.ID, p.ID, base), store.ErrNotFound)
}

// testRemovedPasskeyRegisteredAgain: the user registering the credential of their
// removed passkey again gets it (a new passkey, the removed one is gone for good and
// cannot be restored beside it); nobody else can take the credential id, live or
// removed.
func testRemovedPasskeyRegisteredAgain(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	b := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, a), newUser(t, a)
	bu := newUser(t, b)
	p := newPasskey(t, a, u.ID, base, 5)
	noErr(t, "DeletePasskey", a.Passkeys().DeletePasskey(ctx(t), u.ID, p.ID, removedAt))

	for _, c := range []struct {
		what string
		h    store.TenantHandle
		user string
	}{{"another user", a, other.ID}, {"a user of another tenant", b, bu.ID}} {
		steal := p
		steal.ID, steal.UserID = "pk-"+randHex(6), c.user
		wantErr(t, "AddPasskey of a removed credential by "+c.what, c.h.Passkeys().AddPasskey(ctx(t), steal), store.ErrConflict)
	}
	if removed, err := a.Passkeys().RemovedPasskeys(ctx(t), u.ID); err != nil || len(removed) != 1 {
		t.Fatalf("RemovedPasskeys after the refused registrations: %+v, %v", removed, err)
	}

	again := p
	again.ID, again.PublicKey, again.SignCount, again.Name, again.CreatedAt = "pk-"+randHex(6), randBytes(77), 0, "Again", removedAt.Add(time.Hour)
	noErr(t, "AddPasskey of the removed credential by its user", a.Passkeys().AddPasskey(ctx(t), again))
	checkPasskey(t, "the passkey registered again", readPasskey(t, a, p.CredentialID), again)
	if removed, err := a.Passkeys().RemovedPasskeys(ctx(t), u.ID); err != nil || len(removed) != 0 {
		t.Errorf("RemovedPasskeys after registering again: %+v, %v", removed, err)
	}
	wantErr(t, "RestorePasskey of the superseded passkey", a.Passkeys().RestorePasskey(ctx(t), u.ID, p.ID, base), store.ErrNotFound)
	list, err := a.Passkeys().ListPasskeys(ctx(t), u.ID)
	noErr(t, "ListPasskeys", err)
	if len(list) != 1 || list[0].ID != again.ID {
		t.Errorf("ListPasskeys after registering again: %+v", list)
	}
}

// testRemovedFactorsPurge: the purge deletes what was removed before the cut-off
// (strictly), keeps what was removed at or after it and every live factor.
func testRemovedFactorsPurge(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	oldU, newU, live := newUser(t, h), newUser(t, h), newUser(t, h)
	cut := removedAt.Add(store.RemovedFactorWindow)
	for _, u := range []store.User{oldU, newU, live} {
		confirmedTOTP(t, h, u.ID)
		noErr(t, "ReplaceRecoveryCodes", h.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codeHashes(2), base))
	}
	oldKey, newKey := newPasskey(t, h, oldU.ID, base, 0), newPasskey(t, h, newU.ID, base, 0)
	liveKey := newPasskey(t, h, live.ID, base, 0)
	remove := func(u store.User, key store.Passkey, at time.Time) {
		noErr(t, "DeleteTOTP", h.TOTP().DeleteTOTP(ctx(t), u.ID, at))
		noErr(t, "DeleteRecoveryCodes", h.RecoveryCodes().DeleteRecoveryCodes(ctx(t), u.ID, at))
		noErr(t, "DeletePasskey", h.Passkeys().DeletePasskey(ctx(t), u.ID, key.ID, at))
	}
	remove(oldU, oldKey, cut.Add(-time.Nanosecond))
	remove(newU, newKey, cut)

	n, err := h.TOTP().PurgeRemovedTOTP(ctx(t), cut)
	noErr(t, "PurgeRemovedTOTP", err)
	if n != 1 {
		t.Errorf("PurgeRemovedTOTP purged %d, want 1", n)
	}
	if n, err = h.RecoveryCodes().PurgeRemovedRecoveryCodes(ctx(t), cut); err != nil || n != 2 {
		t.Errorf("PurgeRemovedRecoveryCodes: %d, %v, want 2 codes", n, err)
	}
	if n, err = h.Passkeys().PurgeRemovedPasskeys(ctx(t), cut); err != nil || n != 1 {
		t.Errorf("PurgeRemovedPasskeys: %d, %v, want 1", n, err)
	}

	_, err = h.TOTP().RemovedTOTP(ctx(t), oldU.ID)
	wantErr(t, "RemovedTOTP of a purged secret", err, store.ErrNotFound)
	_, err = h.RecoveryCodes().RemovedRecoveryCodes(ctx(t), oldU.ID)
	wantErr(t, "RemovedRecoveryCodes of a purged set", err, store.ErrNotFound)
	if removed, err := h.Passkeys().RemovedPasskeys(ctx(t), oldU.ID); err != nil || len(removed) != 0 {
		t.Errorf("RemovedPasskeys after the purge: %+v, %v", removed, err)
	}
	wantErr(t, "RestoreTOTP of a purged secret", h.TOTP().RestoreTOTP(ctx(t), oldU.ID, base), store.ErrNotFound)
	wantErr(t, "RestoreRecoveryCodes of a purged set", h.RecoveryCodes().RestoreRecoveryCodes(ctx(t), oldU.ID, base), store.ErrNotFound)
	wantErr(t, "RestorePasskey of a purged passkey", h.Passkeys().RestorePasskey(ctx(t), oldU.ID, oldKey.ID, base), store.ErrNotFound)

	// Removed at the cut-off: kept, and restorable.
	if _, err := h.TOTP().RemovedTOTP(ctx(t), newU.ID); err != nil {
		t.Errorf("RemovedTOTP of a secret removed at the cut-off: %v", err)
	}
	if removed, err := h.Passkeys().RemovedPasskeys(ctx(t), newU.ID); err != nil || len(removed) != 1 {
		t.Errorf("RemovedPasskeys of a passkey removed at the cut-off: %+v, %v", removed, err)
	}
	noErr(t, "RestoreRecoveryCodes of a set removed at the cut-off", h.RecoveryCodes().RestoreRecoveryCodes(ctx(t), newU.ID, base))
	// Live factors are untouched.
	readTOTP(t, h, live.ID)
	wantCodes(t, "live codes after the purge", h, live.ID, 2)
	readPasskey(t, h, liveKey.CredentialID)

	// Purging again finds nothing more.
	if n, err = h.TOTP().PurgeRemovedTOTP(ctx(t), cut); err != nil || n != 0 {
		t.Errorf("PurgeRemovedTOTP again: %d, %v", n, err)
	}
}

// testRemovedFactorsOtherTenant: another tenant's handle neither sees, restores nor
// purges a user's removed factors.
func testRemovedFactorsOtherTenant(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	b := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, a)
	confirmedTOTP(t, a, u.ID)
	noErr(t, "ReplaceRecoveryCodes", a.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codeHashes(2), base))
	p := newPasskey(t, a, u.ID, base, 0)
	noErr(t, "DeleteTOTP", a.TOTP().DeleteTOTP(ctx(t), u.ID, removedAt))
	noErr(t, "DeleteRecoveryCodes", a.RecoveryCodes().DeleteRecoveryCodes(ctx(t), u.ID, removedAt))
	noErr(t, "DeletePasskey", a.Passkeys().DeletePasskey(ctx(t), u.ID, p.ID, removedAt))

	_, err := b.TOTP().RemovedTOTP(ctx(t), u.ID)
	wantErr(t, "B: RemovedTOTP", err, store.ErrNotFound)
	_, err = b.RecoveryCodes().RemovedRecoveryCodes(ctx(t), u.ID)
	wantErr(t, "B: RemovedRecoveryCodes", err, store.ErrNotFound)
	if removed, err := b.Passkeys().RemovedPasskeys(ctx(t), u.ID); err != nil || len(removed) != 0 {
		t.Errorf("B: RemovedPasskeys: %+v, %v", removed, err)
	}
	wantErr(t, "B: RestoreTOTP", b.TOTP().RestoreTOTP(ctx(t), u.ID, base), store.ErrNotFound)
	wantErr(t, "B: RestoreRecoveryCodes", b.RecoveryCodes().RestoreRecoveryCodes(ctx(t), u.ID, base), store.ErrNotFound)
	wantErr(t, "B: RestorePasskey", b.Passkeys().RestorePasskey(ctx(t), u.ID, p.ID, base), store.ErrNotFound)
	far := removedAt.Add(365 * 24 * time.Hour)
	for name, purge := range map[string]func() (int64, error){
		"PurgeRemovedTOTP":          func() (int64, error) { return b.TOTP().PurgeRemovedTOTP(ctx(t), far) },
		"PurgeRemovedRecoveryCodes": func() (int64, error) { return b.RecoveryCodes().PurgeRemovedRecoveryCodes(ctx(t), far) },
		"PurgeRemovedPasskeys":      func() (int64, error) { return b.Passkeys().PurgeRemovedPasskeys(ctx(t), far) },
	} {
		if n, err := purge(); err != nil || n != 0 {
			t.Errorf("B: %s: %d, %v", name, n, err)
		}
	}
	// A still has all three, and restores them.
	noErr(t, "A: RestoreTOTP", a.TOTP().RestoreTOTP(ctx(t), u.ID, base))
	noErr(t, "A: RestoreRecoveryCodes", a.RecoveryCodes().RestoreRecoveryCodes(ctx(t), u.ID, base))
	noErr(t, "A: RestorePasskey", a.Passkeys().RestorePasskey(ctx(t), u.ID, p.ID, base))
	wantCodes(t, "A's codes", a, u.ID, 2)
}
