package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The data keys and the sealed values span the deployment, so the suite's rows live
// next to those of other subtests and runs: each test uses random field-key ids and
// looks only at its own rows.
var sealedTests = []test{
	{"DataKeys", testDataKeys},
	{"DataKeyConcurrentCreate", testDataKeyConcurrent},
	{"CountAndList", testSealedCountAndList},
	{"ResealCompareAndSwap", testResealCAS},
	{"ListPages", testSealedPages},
}

func testDataKeys(t *testing.T, st store.Store) {
	ks := st.DataKeys()
	purpose := "p-" + randHex(6)
	_, err := ks.DataKey(ctx(t), purpose)
	wantErr(t, "DataKey before creation", err, store.ErrNotFound)
	k := store.DataKey{Purpose: purpose, Sealed: randBytes(60), SealKeyID: "fk-" + randHex(4), CreatedAt: base}
	noErr(t, "CreateDataKey", ks.CreateDataKey(ctx(t), k))
	got, err := ks.DataKey(ctx(t), purpose)
	noErr(t, "DataKey", err)
	if got.Purpose != k.Purpose || !bytes.Equal(got.Sealed, k.Sealed) || got.SealKeyID != k.SealKeyID {
		t.Fatalf("got %+v, want %+v", got, k)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, k.CreatedAt)
	other := k
	other.Sealed = randBytes(60)
	wantErr(t, "CreateDataKey for a purpose that has one", ks.CreateDataKey(ctx(t), other), store.ErrConflict)
	if got, _ := ks.DataKey(ctx(t), purpose); !bytes.Equal(got.Sealed, k.Sealed) {
		t.Fatal("a refused create replaced the key")
	}
}

// Instances starting together each try to store the key: exactly one wins.
func testDataKeyConcurrent(t *testing.T, st store.Store) {
	for range raceRounds {
		purpose := "p-" + randHex(6)
		errs := race(4, func() error {
			return st.DataKeys().CreateDataKey(ctx(t), store.DataKey{Purpose: purpose, Sealed: randBytes(40), SealKeyID: "fk-x", CreatedAt: base})
		})
		exactlyOneWins(t, "concurrent CreateDataKey", errs, store.ErrConflict)
	}
}

// sealedFixture is one value of each kind, all sealed under key id keyA.
type sealedFixture struct {
	keyA    string
	tenant  string
	user    string
	kid     string // signing key
	auditID string // audit key
	purpose string // data key
}

func newSealedFixture(t *testing.T, st store.Store) (sealedFixture, store.TenantHandle) {
	t.Helper()
	f := sealedFixture{keyA: "fk-" + randHex(6), kid: "sk-" + randHex(6), auditID: "ak-" + randHex(6), purpose: "p-" + randHex(6)}
	tn := newTenant(t, st)
	h := st.Tenant(tn.ID)
	u := newUser(t, h)
	f.tenant, f.user = tn.ID, u.ID
	totp := newTOTPSecret(u.ID, base)
	totp.KeyID = f.keyA
	noErr(t, "PutPendingTOTP", h.TOTP().PutPendingTOTP(ctx(t), totp))
	sk := signingKey(f.kid, base, base)
	sk.SealKeyID = f.keyA
	noErr(t, "CreateSigningKey", st.SigningKeys().CreateSigningKey(ctx(t), sk))
	noErr(t, "CreateAuditKey", st.AuditKeys().CreateAuditKey(ctx(t), store.AuditKey{KID: f.auditID, PublicKey: randBytes(32),
		PrivateKey: randBytes(60), SealKeyID: f.keyA, CreatedAt: base}))
	noErr(t, "CreateDataKey", st.DataKeys().CreateDataKey(ctx(t), store.DataKey{Purpose: f.purpose, Sealed: randBytes(60),
		SealKeyID: f.keyA, CreatedAt: base}))
	return f, h
}

// own picks the fixture's row of kind out of a listing.
func (f sealedFixture) own(list []store.SealedField, kind string) (store.SealedField, bool) {
	for _, s := range list {
		switch {
		case kind == store.SealedTOTP && s.Tenant == f.tenant && s.ID == f.user,
			kind == store.SealedSigningKey && s.ID == f.kid,
			kind == store.SealedAuditKey && s.ID == f.auditID,
			kind == store.SealedDataKey && s.ID == f.purpose:
			return s, true
		}
	}
	return store.SealedField{}, false
}

// listAll lists every value of kind not under keyID (following the pages).
func listAll(t *testing.T, st store.Store, kind, keyID string) []store.SealedField {
	t.Helper()
	var out []store.SealedField
	after := store.SealedField{}
	for {
		page, err := st.SealedFields().SealedNotUnder(ctx(t), kind, keyID, after, 500)
		noErr(t, "SealedNotUnder", err)
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
		after = page[len(page)-1]
	}
}

// testSealedCountAndList: every kind is counted under its key id and listed when not
// under the rotation's key, with its sealed bytes; not listed when it is.
func testSealedCountAndList(t *testing.T, st store.Store) {
	f, _ := newSealedFixture(t, st)
	counts, err := st.SealedFields().CountSealed(ctx(t))
	noErr(t, "CountSealed", err)
	for _, kind := range store.SealedKinds {
		i := slices.IndexFunc(counts, func(c store.SealedCount) bool { return c.Kind == kind && c.KeyID == f.keyA })
		if i < 0 || counts[i].N != 1 {
			t.Errorf("%s under %s: counts %v", kind, f.keyA, counts)
		}
		listed := listAll(t, st, kind, "fk-other")
		got, ok := f.own(listed, kind)
		if !ok || got.KeyID != f.keyA || len(got.Sealed) == 0 {
			t.Errorf("%s not listed as not under fk-other: %+v", kind, got)
		}
		if _, ok := f.own(listAll(t, st, kind, f.keyA), kind); ok {
			t.Errorf("%s listed as not under the key that seals it", kind)
		}
	}
}

// testResealCAS: a re-seal replaces exactly the row it read; a row that changed since
// (re-enrolled, re-sealed by someone else) or belongs to another tenant is left alone.
func testResealCAS(t *testing.T, st store.Store) {
	f, h := newSealedFixture(t, st)
	fields := st.SealedFields()
	keyB := "fk-" + randHex(6)
	for _, kind := range store.SealedKinds {
		read, ok := f.own(listAll(t, st, kind, keyB), kind)
		if !ok {
			t.Fatalf("%s not listed", kind)
		}
		if kind == store.SealedTOTP {
			moved := read
			moved.Tenant = newTenant(t, st).ID
			if ok, err := fields.Reseal(ctx(t), moved, randBytes(50), keyB); err != nil || ok {
				t.Fatalf("re-seal through another tenant: %v %v", ok, err)
			}
		}
		resealed := randBytes(50)
		ok, err := fields.Reseal(ctx(t), read, resealed, keyB)
		if err != nil || !ok {
			t.Fatalf("%s Reseal: %v %v", kind, ok, err)
		}
		// The stale read no longer matches: a second swap from it changes nothing.
		if ok, err := fields.Reseal(ctx(t), read, randBytes(50), "fk-stale"); err != nil || ok {
			t.Fatalf("%s Reseal from a stale read: %v %v", kind, ok, err)
		}
		now, ok := f.own(listAll(t, st, kind, "fk-other"), kind)
		if !ok || now.KeyID != keyB || !bytes.Equal(now.Sealed, resealed) {
			t.Fatalf("%s after Reseal: %+v", kind, now)
		}
	}
	// The row each kind's own store reads holds the new value.
	got := readTOTP(t, h, f.user)
	if got.KeyID != keyB {
		t.Fatalf("TOTPByUser after Reseal: key %s", got.KeyID)
	}
	dk, err := st.DataKeys().DataKey(ctx(t), f.purpose)
	noErr(t, "DataKey", err)
	if dk.SealKeyID != keyB {
		t.Fatalf("data key after Reseal: key %s", dk.SealKeyID)
	}
	// A TOTP secret replaced between the read and the swap keeps its new value.
	u2 := newUser(t, h)
	first := newTOTPSecret(u2.ID, base)
	noErr(t, "PutPendingTOTP", h.TOTP().PutPendingTOTP(ctx(t), first))
	read := store.SealedField{Kind: store.SealedTOTP, Tenant: f.tenant, ID: u2.ID, Sealed: first.Ciphertext, KeyID: first.KeyID}
	second := newTOTPSecret(u2.ID, base)
	noErr(t, "PutPendingTOTP again", h.TOTP().PutPendingTOTP(ctx(t), second))
	if ok, err := fields.Reseal(ctx(t), read, randBytes(50), keyB); err != nil || ok {
		t.Fatalf("Reseal over a re-enrolment: %v %v", ok, err)
	}
	checkTOTP(t, "re-enrolled secret", readTOTP(t, h, u2.ID), second)
	if _, err := fields.Reseal(ctx(t), store.SealedField{Kind: "nonsense", ID: "x"}, randBytes(5), keyB); err == nil {
		t.Fatal("Reseal of an unknown kind accepted")
	}
}

// testSealedPages: following the pages visits each row once, in (tenant, id) order.
func testSealedPages(t *testing.T, st store.Store) {
	tn := newTenant(t, st)
	h := st.Tenant(tn.ID)
	var want []string
	for range 5 {
		u := newUser(t, h)
		noErr(t, "PutPendingTOTP", h.TOTP().PutPendingTOTP(ctx(t), newTOTPSecret(u.ID, base)))
		want = append(want, u.ID)
	}
	slices.Sort(want)
	var got []string
	after := store.SealedField{Tenant: tn.ID}
	for {
		page, err := st.SealedFields().SealedNotUnder(ctx(t), store.SealedTOTP, "fk-none", after, 2)
		noErr(t, "SealedNotUnder", err)
		for _, f := range page {
			if f.Tenant != tn.ID {
				page = nil // past the tenant
				break
			}
			got = append(got, f.ID)
		}
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1]
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}
