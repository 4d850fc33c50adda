package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var recoveryTests = []test{
	{"UseOnce", testRecoveryUseOnce},
	{"ReplaceAndDelete", testRecoveryReplace},
	{"ConcurrentUse", testRecoveryConcurrent},
}

func codeHashes(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = randBytes(32)
	}
	return out
}

func wantCodes(t *testing.T, what string, h store.TenantHandle, userID string, want int) {
	t.Helper()
	n, err := h.RecoveryCodes().CountRecoveryCodes(ctx(t), userID)
	noErr(t, what+": CountRecoveryCodes", err)
	if n != want {
		t.Errorf("%s: %d unused recovery codes, want %d", what, n, want)
	}
}

func useCode(t *testing.T, h store.TenantHandle, userID string, hash []byte, wantRemaining int) {
	t.Helper()
	left, err := h.RecoveryCodes().UseRecoveryCode(ctx(t), userID, hash, base.Add(time.Hour))
	noErr(t, "UseRecoveryCode", err)
	if left != wantRemaining {
		t.Errorf("UseRecoveryCode: %d remaining, want %d", left, wantRemaining)
	}
}

func testRecoveryUseOnce(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	rc := h.RecoveryCodes()
	wantCodes(t, "new user", h, u.ID, 0)

	codes, otherCodes := codeHashes(3), codeHashes(2)
	noErr(t, "ReplaceRecoveryCodes", rc.ReplaceRecoveryCodes(ctx(t), u.ID, codes, base))
	noErr(t, "ReplaceRecoveryCodes other", rc.ReplaceRecoveryCodes(ctx(t), other.ID, otherCodes, base))
	wantCodes(t, "after ReplaceRecoveryCodes", h, u.ID, 3)

	useCode(t, h, u.ID, codes[1], 2)
	_, err := rc.UseRecoveryCode(ctx(t), u.ID, codes[1], base.Add(2*time.Hour))
	wantErr(t, "UseRecoveryCode again", err, store.ErrNotFound)
	wantCodes(t, "after a failed reuse", h, u.ID, 2)

	_, err = rc.UseRecoveryCode(ctx(t), u.ID, randBytes(32), base)
	wantErr(t, "UseRecoveryCode unknown", err, store.ErrNotFound)
	_, err = rc.UseRecoveryCode(ctx(t), u.ID, otherCodes[0], base)
	wantErr(t, "UseRecoveryCode of another user's code", err, store.ErrNotFound)
	wantCodes(t, "other user's codes", h, other.ID, 2)

	useCode(t, h, u.ID, codes[0], 1)
	useCode(t, h, u.ID, codes[2], 0)
	wantCodes(t, "all used", h, u.ID, 0)
}

func testRecoveryReplace(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	rc := h.RecoveryCodes()

	old := codeHashes(4)
	noErr(t, "ReplaceRecoveryCodes", rc.ReplaceRecoveryCodes(ctx(t), u.ID, old, base))
	noErr(t, "ReplaceRecoveryCodes other", rc.ReplaceRecoveryCodes(ctx(t), other.ID, codeHashes(3), base))
	useCode(t, h, u.ID, old[0], 3)

	// Replacing drops every earlier code, used or not; the new ones are all unused.
	fresh := codeHashes(2)
	noErr(t, "ReplaceRecoveryCodes again", rc.ReplaceRecoveryCodes(ctx(t), u.ID, fresh, base.Add(time.Hour)))
	wantCodes(t, "after replacement", h, u.ID, 2)
	_, err := rc.UseRecoveryCode(ctx(t), u.ID, old[1], base.Add(2*time.Hour))
	wantErr(t, "UseRecoveryCode of a replaced code", err, store.ErrNotFound)
	useCode(t, h, u.ID, fresh[1], 1)

	noErr(t, "DeleteRecoveryCodes", rc.DeleteRecoveryCodes(ctx(t), u.ID, base.Add(4*time.Hour)))
	wantCodes(t, "after DeleteRecoveryCodes", h, u.ID, 0)
	_, err = rc.UseRecoveryCode(ctx(t), u.ID, fresh[0], base.Add(3*time.Hour))
	wantErr(t, "UseRecoveryCode after DeleteRecoveryCodes", err, store.ErrNotFound)
	noErr(t, "DeleteRecoveryCodes again (idempotent)", rc.DeleteRecoveryCodes(ctx(t), u.ID, base.Add(4*time.Hour)))
	wantCodes(t, "other user's codes", h, other.ID, 3)

	noErr(t, "ReplaceRecoveryCodes with none", rc.ReplaceRecoveryCodes(ctx(t), other.ID, nil, base))
	wantCodes(t, "after replacing with none", h, other.ID, 0)
}

// testRecoveryConcurrent: a code submitted 20 times at once is accepted once. Each
// round races for another code (a race is won or lost by timing, so one round can
// miss a check-then-act bug).
func testRecoveryConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	codes := codeHashes(raceRounds)
	noErr(t, "ReplaceRecoveryCodes", h.RecoveryCodes().ReplaceRecoveryCodes(ctx(t), u.ID, codes, base))

	for i, code := range codes {
		remaining := make(chan int, 20)
		errs := race(20, func() error {
			left, err := h.RecoveryCodes().UseRecoveryCode(t.Context(), u.ID, code, base.Add(time.Minute))
			if err == nil {
				remaining <- left
			}
			return err
		})
		exactlyOneWins(t, "concurrent UseRecoveryCode", errs, store.ErrNotFound)
		if left, want := <-remaining, len(codes)-1-i; left != want {
			t.Errorf("round %d: winner saw %d remaining, want %d", i, left, want)
		}
	}
	wantCodes(t, "after the races", h, u.ID, 0)
}
