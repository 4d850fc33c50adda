package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var totpTests = []test{
	{"Enrolment", testTOTPEnrolment},
	{"Delete", testTOTPDelete},
	{"StepUsedOnce", testTOTPStepOnce},
	{"ConcurrentStepUse", testTOTPStepConcurrent},
}

func checkTOTP(t *testing.T, what string, got, want store.TOTPSecret) {
	t.Helper()
	if got.UserID != want.UserID || !bytes.Equal(got.Ciphertext, want.Ciphertext) || got.KeyID != want.KeyID {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" ConfirmedAt", got.ConfirmedAt, want.ConfirmedAt)
}

func newTOTPSecret(userID string, created time.Time) store.TOTPSecret {
	return store.TOTPSecret{UserID: userID, Ciphertext: randBytes(48), KeyID: "fk-" + randHex(4), CreatedAt: created}
}

// readTOTP returns the user's secret, failing the test if there is none.
func readTOTP(t *testing.T, h store.TenantHandle, userID string) store.TOTPSecret {
	t.Helper()
	got, err := h.TOTP().TOTPByUser(ctx(t), userID)
	noErr(t, "TOTPByUser", err)
	return got
}

// testTOTPEnrolment: pending, replaced while pending, confirmed, then refused.
func testTOTPEnrolment(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	totp := h.TOTP()

	_, err := totp.TOTPByUser(ctx(t), u.ID)
	wantErr(t, "TOTPByUser before enrolment", err, store.ErrNotFound)
	wantErr(t, "ConfirmTOTP without a secret", totp.ConfirmTOTP(ctx(t), u.ID, base), store.ErrNotFound)

	first := newTOTPSecret(u.ID, base)
	first.ConfirmedAt = base.Add(time.Hour) // ignored: PutPendingTOTP stores it pending
	noErr(t, "PutPendingTOTP", totp.PutPendingTOTP(ctx(t), first))
	first.ConfirmedAt = time.Time{}
	checkTOTP(t, "pending secret", readTOTP(t, h, u.ID), first)

	// A second enrolment attempt replaces the unconfirmed secret.
	second := newTOTPSecret(u.ID, base.Add(time.Minute))
	noErr(t, "PutPendingTOTP replacing a pending secret", totp.PutPendingTOTP(ctx(t), second))
	checkTOTP(t, "replaced pending secret", readTOTP(t, h, u.ID), second)

	confirmed := base.Add(2*time.Minute + time.Nanosecond)
	noErr(t, "ConfirmTOTP", totp.ConfirmTOTP(ctx(t), u.ID, confirmed))
	second.ConfirmedAt = confirmed
	checkTOTP(t, "confirmed secret", readTOTP(t, h, u.ID), second)
	wantErr(t, "ConfirmTOTP of a confirmed secret", totp.ConfirmTOTP(ctx(t), u.ID, confirmed.Add(time.Hour)), store.ErrNotFound)

	// A confirmed secret is a factor: a new enrolment must not overwrite it.
	wantErr(t, "PutPendingTOTP over a confirmed secret", totp.PutPendingTOTP(ctx(t), newTOTPSecret(u.ID, base.Add(time.Hour))), store.ErrConflict)
	checkTOTP(t, "confirmed secret after a refused replacement", readTOTP(t, h, u.ID), second)

	// The other user is untouched throughout.
	_, err = totp.TOTPByUser(ctx(t), other.ID)
	wantErr(t, "TOTPByUser of the other user", err, store.ErrNotFound)
}

func testTOTPDelete(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	totp := h.TOTP()

	sec, keep := newTOTPSecret(u.ID, base), newTOTPSecret(other.ID, base)
	noErr(t, "PutPendingTOTP", totp.PutPendingTOTP(ctx(t), sec))
	noErr(t, "PutPendingTOTP other", totp.PutPendingTOTP(ctx(t), keep))
	noErr(t, "ConfirmTOTP", totp.ConfirmTOTP(ctx(t), u.ID, base.Add(time.Minute)))

	noErr(t, "DeleteTOTP", totp.DeleteTOTP(ctx(t), u.ID, base.Add(2*time.Hour)))
	_, err := totp.TOTPByUser(ctx(t), u.ID)
	wantErr(t, "TOTPByUser after DeleteTOTP", err, store.ErrNotFound)
	noErr(t, "DeleteTOTP again (idempotent)", totp.DeleteTOTP(ctx(t), u.ID, base.Add(2*time.Hour)))
	noErr(t, "DeleteTOTP of a user without a secret", totp.DeleteTOTP(ctx(t), "us-missing", base.Add(2*time.Hour)))
	checkTOTP(t, "other user's secret", readTOTP(t, h, other.ID), keep)

	// After removal the user can enrol again.
	again := newTOTPSecret(u.ID, base.Add(time.Hour))
	noErr(t, "PutPendingTOTP after DeleteTOTP", totp.PutPendingTOTP(ctx(t), again))
	checkTOTP(t, "new pending secret", readTOTP(t, h, u.ID), again)
}

func testTOTPStepOnce(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	totp := h.TOTP()
	const step = 59_000_000 // about now in 30-second steps

	noErr(t, "UseTOTPStep", totp.UseTOTPStep(ctx(t), u.ID, step, base))
	wantErr(t, "UseTOTPStep again", totp.UseTOTPStep(ctx(t), u.ID, step, base.Add(time.Second)), store.ErrConflict)
	wantErr(t, "UseTOTPStep a third time", totp.UseTOTPStep(ctx(t), u.ID, step, base.Add(time.Minute)), store.ErrConflict)
	noErr(t, "UseTOTPStep next step", totp.UseTOTPStep(ctx(t), u.ID, step+1, base.Add(30*time.Second)))
	noErr(t, "UseTOTPStep earlier step", totp.UseTOTPStep(ctx(t), u.ID, step-1, base.Add(30*time.Second)))
	// Steps are per user.
	noErr(t, "UseTOTPStep same step, other user", totp.UseTOTPStep(ctx(t), other.ID, step, base))
}

// testTOTPStepConcurrent: one code submitted 20 times at once is accepted once (in
// several rounds, one step each).
func testTOTPStepConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	for step := range int64(raceRounds) {
		errs := race(20, func() error {
			return h.TOTP().UseTOTPStep(t.Context(), u.ID, 123456+step, base)
		})
		exactlyOneWins(t, "concurrent UseTOTPStep", errs, store.ErrConflict)
	}
}
