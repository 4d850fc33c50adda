package storetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var passkeyTests = []test{
	{"AddAndLookup", testPasskeyLookup},
	{"List", testPasskeyList},
	{"DuplicateCredential", testPasskeyDuplicate},
	{"RenameAndDelete", testPasskeyRenameDelete},
	{"SignCount", testPasskeySignCount},
	{"ConcurrentUse", testPasskeyConcurrent},
}

func checkPasskey(t *testing.T, what string, got, want store.Passkey) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || !bytes.Equal(got.CredentialID, want.CredentialID) ||
		!bytes.Equal(got.PublicKey, want.PublicKey) || got.AttestationType != want.AttestationType ||
		!bytes.Equal(got.AAGUID, want.AAGUID) || got.SignCount != want.SignCount ||
		!slices.Equal(got.Transports, want.Transports) || got.BackupEligible != want.BackupEligible ||
		got.BackupState != want.BackupState || got.Name != want.Name {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" LastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

// newPasskey adds a passkey with random ids and keys for userID.
func newPasskey(t *testing.T, h store.TenantHandle, userID string, created time.Time, signCount uint32) store.Passkey {
	t.Helper()
	p := store.Passkey{
		ID:              "pk-" + randHex(6),
		UserID:          userID,
		CredentialID:    randBytes(32),
		PublicKey:       randBytes(77),
		AttestationType: "none",
		AAGUID:          randBytes(16),
		SignCount:       signCount,
		Transports:      []string{"internal", "hybrid"},
		BackupEligible:  true,
		Name:            "Passkey " + randHex(2),
		CreatedAt:       created,
	}
	noErr(t, "AddPasskey", h.Passkeys().AddPasskey(ctx(t), p))
	return p
}

func readPasskey(t *testing.T, h store.TenantHandle, credentialID []byte) store.Passkey {
	t.Helper()
	p, err := h.Passkeys().PasskeyByCredentialID(ctx(t), credentialID)
	noErr(t, "PasskeyByCredentialID", err)
	return p
}

func testPasskeyLookup(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	want := store.Passkey{
		ID:              "pk-" + randHex(6),
		UserID:          u.ID,
		CredentialID:    randBytes(64),
		PublicKey:       randBytes(77),
		AttestationType: "packed",
		AAGUID:          randBytes(16),
		SignCount:       4_000_000_000, // above 2^31: the full uint32 range survives
		Transports:      []string{"usb", "nfc"},
		BackupEligible:  false,
		BackupState:     true,
		Name:            "YubiKey 5 “blue”",
		CreatedAt:       base.In(time.FixedZone("UTC-3", -3*3600)),
		LastUsedAt:      base.Add(time.Hour),
	}
	noErr(t, "AddPasskey", h.Passkeys().AddPasskey(ctx(t), want))
	checkPasskey(t, "PasskeyByCredentialID", readPasskey(t, h, want.CredentialID), want)

	// Empty lists and AAGUIDs (authenticators that send none) round-trip too.
	bare := store.Passkey{ID: "pk-" + randHex(6), UserID: u.ID, CredentialID: randBytes(16), PublicKey: randBytes(40), CreatedAt: base}
	noErr(t, "AddPasskey bare", h.Passkeys().AddPasskey(ctx(t), bare))
	checkPasskey(t, "bare passkey", readPasskey(t, h, bare.CredentialID), bare)

	_, err := h.Passkeys().PasskeyByCredentialID(ctx(t), randBytes(32))
	wantErr(t, "PasskeyByCredentialID unknown", err, store.ErrNotFound)
}

func testPasskeyList(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	newer := newPasskey(t, h, u.ID, base.Add(time.Minute), 0)
	older := newPasskey(t, h, u.ID, base, 7)
	others := newPasskey(t, h, other.ID, base, 0)

	list, err := h.Passkeys().ListPasskeys(ctx(t), u.ID)
	noErr(t, "ListPasskeys", err)
	if len(list) != 2 {
		t.Fatalf("ListPasskeys returned %d passkeys, want 2", len(list))
	}
	checkPasskey(t, "oldest first", list[0], older)
	checkPasskey(t, "then newer", list[1], newer)

	list, err = h.Passkeys().ListPasskeys(ctx(t), other.ID)
	noErr(t, "ListPasskeys other", err)
	if len(list) != 1 {
		t.Fatalf("ListPasskeys of other user returned %d passkeys, want 1", len(list))
	}
	checkPasskey(t, "other user's passkey", list[0], others)

	list, err = h.Passkeys().ListPasskeys(ctx(t), "us-missing")
	noErr(t, "ListPasskeys unknown user", err)
	if len(list) != 0 {
		t.Errorf("ListPasskeys of unknown user returned %d passkeys", len(list))
	}
}

// testPasskeyDuplicate: a credential id is registered once, in the whole store.
func testPasskeyDuplicate(t *testing.T, st store.Store) {
	a, b := twoTenants(t, st)
	u, other := newUser(t, a), newUser(t, a)
	p := newPasskey(t, a, u.ID, base, 0)

	dup := p
	dup.ID = "pk-" + randHex(6)
	wantErr(t, "AddPasskey with a taken credential id", a.Passkeys().AddPasskey(ctx(t), dup), store.ErrConflict)
	dup.UserID = other.ID
	wantErr(t, "AddPasskey with a taken credential id for another user", a.Passkeys().AddPasskey(ctx(t), dup), store.ErrConflict)
	bu := newUser(t, b)
	dup.UserID = bu.ID
	wantErr(t, "AddPasskey with a credential id taken in another tenant", b.Passkeys().AddPasskey(ctx(t), dup), store.ErrConflict)

	sameID := p
	sameID.CredentialID = randBytes(32)
	wantErr(t, "AddPasskey with a taken passkey id", a.Passkeys().AddPasskey(ctx(t), sameID), store.ErrConflict)

	checkPasskey(t, "original passkey", readPasskey(t, a, p.CredentialID), p)
	list, err := b.Passkeys().ListPasskeys(ctx(t), bu.ID)
	noErr(t, "B: ListPasskeys", err)
	if len(list) != 0 {
		t.Errorf("refused AddPasskey left %d passkeys in B", len(list))
	}
}

func testPasskeyRenameDelete(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	p := newPasskey(t, h, u.ID, base, 3)
	keep := newPasskey(t, h, u.ID, base, 0)
	pk := h.Passkeys()

	noErr(t, "RenamePasskey", pk.RenamePasskey(ctx(t), u.ID, p.ID, "Laptop"))
	p.Name = "Laptop"
	checkPasskey(t, "renamed passkey", readPasskey(t, h, p.CredentialID), p)
	noErr(t, "RenamePasskey to the same name", pk.RenamePasskey(ctx(t), u.ID, p.ID, "Laptop"))

	// Another user of the same tenant can neither rename nor delete it.
	wantErr(t, "RenamePasskey by another user", pk.RenamePasskey(ctx(t), other.ID, p.ID, "Mine now"), store.ErrNotFound)
	wantErr(t, "DeletePasskey by another user", pk.DeletePasskey(ctx(t), other.ID, p.ID, base.Add(time.Hour)), store.ErrNotFound)
	wantErr(t, "RenamePasskey unknown", pk.RenamePasskey(ctx(t), u.ID, "pk-missing", "x"), store.ErrNotFound)
	checkPasskey(t, "passkey after others' attempts", readPasskey(t, h, p.CredentialID), p)

	noErr(t, "DeletePasskey", pk.DeletePasskey(ctx(t), u.ID, p.ID, base.Add(time.Hour)))
	wantErr(t, "DeletePasskey again", pk.DeletePasskey(ctx(t), u.ID, p.ID, base.Add(time.Hour)), store.ErrNotFound)
	_, err := pk.PasskeyByCredentialID(ctx(t), p.CredentialID)
	wantErr(t, "PasskeyByCredentialID after DeletePasskey", err, store.ErrNotFound)
	wantErr(t, "RecordPasskeyUse after DeletePasskey", pk.RecordPasskeyUse(ctx(t), p.CredentialID, 9, false, base), store.ErrNotFound)
	list, err := pk.ListPasskeys(ctx(t), u.ID)
	noErr(t, "ListPasskeys", err)
	if len(list) != 1 {
		t.Fatalf("ListPasskeys after DeletePasskey returned %d passkeys, want 1", len(list))
	}
	checkPasskey(t, "remaining passkey", list[0], keep)

	// A deleted credential may be registered again.
	again := p
	again.ID = "pk-" + randHex(6)
	noErr(t, "AddPasskey of a deleted credential", pk.AddPasskey(ctx(t), again))
}

// testPasskeySignCount: the stored count only moves forward; 0 stays allowed for
// authenticators that do not count.
func testPasskeySignCount(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	pk := h.Passkeys()

	p := newPasskey(t, h, u.ID, base, 10)
	for _, n := range []uint32{10, 9, 0} {
		wantErr(t, "RecordPasskeyUse with a count not above the stored one", pk.RecordPasskeyUse(ctx(t), p.CredentialID, n, true, base.Add(time.Hour)), store.ErrConflict)
	}
	checkPasskey(t, "passkey after refused uses", readPasskey(t, h, p.CredentialID), p)

	used := base.Add(time.Minute + time.Nanosecond)
	noErr(t, "RecordPasskeyUse increasing", pk.RecordPasskeyUse(ctx(t), p.CredentialID, 11, true, used))
	p.SignCount, p.BackupState, p.LastUsedAt = 11, true, used
	checkPasskey(t, "passkey after a use", readPasskey(t, h, p.CredentialID), p)
	noErr(t, "RecordPasskeyUse to the largest count", pk.RecordPasskeyUse(ctx(t), p.CredentialID, 1<<32-1, false, used.Add(time.Minute)))
	p.SignCount, p.BackupState, p.LastUsedAt = 1<<32-1, false, used.Add(time.Minute)
	checkPasskey(t, "passkey at the largest count", readPasskey(t, h, p.CredentialID), p)

	zero := newPasskey(t, h, u.ID, base, 0)
	noErr(t, "RecordPasskeyUse 0 on 0", pk.RecordPasskeyUse(ctx(t), zero.CredentialID, 0, false, used))
	noErr(t, "RecordPasskeyUse 0 on 0 again", pk.RecordPasskeyUse(ctx(t), zero.CredentialID, 0, true, used.Add(time.Hour)))
	zero.BackupState, zero.LastUsedAt = true, used.Add(time.Hour)
	checkPasskey(t, "non-counting passkey", readPasskey(t, h, zero.CredentialID), zero)
	// Once it has counted, going back to 0 is a regression (a possible clone).
	noErr(t, "RecordPasskeyUse 5 on 0", pk.RecordPasskeyUse(ctx(t), zero.CredentialID, 5, true, used.Add(2*time.Hour)))
	wantErr(t, "RecordPasskeyUse 0 on 5", pk.RecordPasskeyUse(ctx(t), zero.CredentialID, 0, true, used.Add(3*time.Hour)), store.ErrConflict)

	wantErr(t, "RecordPasskeyUse unknown", pk.RecordPasskeyUse(ctx(t), randBytes(32), 1, false, used), store.ErrNotFound)
}

// testPasskeyConcurrent: one assertion replayed 20 times at once is recorded once (in
// several rounds, each with the next count).
func testPasskeyConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	p := newPasskey(t, h, u.ID, base, 41)
	for i := range uint32(raceRounds) {
		count := 42 + i
		errs := race(20, func() error {
			return h.Passkeys().RecordPasskeyUse(t.Context(), p.CredentialID, count, false, base.Add(time.Minute))
		})
		exactlyOneWins(t, "concurrent RecordPasskeyUse", errs, store.ErrConflict)
		if got := readPasskey(t, h, p.CredentialID); got.SignCount != count {
			t.Errorf("sign count after the race: %d, want %d", got.SignCount, count)
		}
	}
}
