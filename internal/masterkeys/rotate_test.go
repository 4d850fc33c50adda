package masterkeys_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/masterkeys"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// deployment is a store with one value of every sealed kind (and several TOTP keys),
// all sealed under master key v1 by the code that seals them in the gateway.
type deployment struct {
	st       store.Store
	v1, v2   secret.MasterKey
	ws       store.Workspace
	users    []store.User
	secrets  map[string]string // user id → TOTP secret
	dataKeys masterkeys.DataKeySet
}

func newDeployment(t *testing.T, totps int) *deployment {
	t.Helper()
	ctx := t.Context()
	d := &deployment{st: testdb.Store(t), secrets: map[string]string{}}
	d.v1 = secret.NewMasterKey(nil)
	d.v2 = secret.NewMasterKey([]secret.MasterKey{d.v1})
	c1 := d.cipher(t, d.v1)
	var err error
	if d.dataKeys, err = masterkeys.EnsureDataKeys(ctx, d.st.DataKeys(), c1, []secret.MasterKey{d.v1}, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	ring := &token.KeyRing{Store: d.st.SigningKeys(), Leases: d.st.Maintenance(), Cipher: c1, Holder: "a", Clock: clock.Real{}}
	if err := ring.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := (&audit.KeyStore{Store: d.st.AuditKeys(), Leases: d.st.Maintenance(), Cipher: c1, Holder: "a", Clock: clock.Real{}}).Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	d.ws = testdb.Workspace(t, d.st, "acme")
	mfa := &authn.MFA{Cipher: c1, Clock: clock.Real{}}
	for i := range totps {
		u := store.User{ID: secret.NewID(), Email: fmt.Sprintf("u%d@example.test", i), Status: store.UserActive, Roles: []string{"member"}, CreatedAt: time.Now()}
		if err := d.ws.Users().CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		k, err := mfa.BeginTOTP(ctx, d.ws, u, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		d.users = append(d.users, u)
		d.secrets[u.ID] = k.Secret
	}
	return d
}

func (d *deployment) cipher(t *testing.T, keys ...secret.MasterKey) *secret.FieldCipher {
	t.Helper()
	fc, err := secret.NewVersionedFieldCipher(keys)
	if err != nil {
		t.Fatal(err)
	}
	return fc
}

// checkOpensWithOnly proves that everything is sealed under k: a cipher holding k alone
// opens every TOTP key, both signing and audit keys, and the data keys (unchanged).
func (d *deployment) checkOpensWithOnly(t *testing.T, k secret.MasterKey) {
	t.Helper()
	ctx := t.Context()
	only := d.cipher(t, k)
	mfa := &authn.MFA{Cipher: only, Clock: clock.Real{}}
	for _, u := range d.users {
		key, err := mfa.PendingTOTP(ctx, d.ws, u, "Acme")
		if err != nil || key.Secret != d.secrets[u.ID] {
			t.Fatalf("TOTP key of %s with v%d alone: %v", u.Email, k.Version, err)
		}
	}
	ring := &token.KeyRing{Store: d.st.SigningKeys(), Leases: d.st.Maintenance(), Cipher: only, Holder: "b", Clock: clock.Real{}}
	if err := ring.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, in := range ring.Describe(time.Now()) {
		if !in.CanSign {
			t.Fatalf("signing key %s does not open with v%d alone", in.KID, k.Version)
		}
	}
	if _, err := (&audit.KeyStore{Store: d.st.AuditKeys(), Cipher: only}).Load(ctx); err != nil {
		t.Fatalf("audit key with v%d alone: %v", k.Version, err)
	}
	dk, err := masterkeys.EnsureDataKeys(ctx, d.st.DataKeys(), only, []secret.MasterKey{k}, false, time.Now())
	if err != nil {
		t.Fatalf("data keys with v%d alone: %v", k.Version, err)
	}
	if !bytes.Equal(dk.AuditDigest, d.dataKeys.AuditDigest) || !bytes.Equal(dk.RefreshSuccessor, d.dataKeys.RefreshSuccessor) {
		t.Fatal("a data key changed with the rotation")
	}
}

func TestRotationResealsEverything(t *testing.T) {
	d := newDeployment(t, 7)
	ctx := t.Context()
	keys := []secret.MasterKey{d.v2, d.v1}
	before, err := masterkeys.Report(ctx, d.st.SealedFields(), keys)
	if err != nil {
		t.Fatal(err)
	}
	if before.Stale() != 7+1+1+2 || before.Keys[1].Sealed[store.SealedTOTP] != 7 || len(before.Unused()) != 0 {
		t.Fatalf("before: %+v", before)
	}
	// Before the rotation v2 alone opens nothing.
	if _, err := (&authn.MFA{Cipher: d.cipher(t, d.v2), Clock: clock.Real{}}).PendingTOTP(ctx, d.ws, d.users[0], "Acme"); err == nil {
		t.Fatal("v2 alone opened a value sealed under v1")
	}
	r := &masterkeys.Rotator{Fields: d.st.SealedFields(), Cipher: d.cipher(t, keys...), Batch: 3}
	res, err := r.Run(ctx, 0)
	if err != nil || len(res.Failed) != 0 {
		t.Fatalf("Run: %v %v", err, res.Failed)
	}
	if res.Total() != 11 || res.Resealed[store.SealedTOTP] != 7 || res.KeyID != d.v2.KeyID() {
		t.Fatalf("result %+v", res)
	}
	d.checkOpensWithOnly(t, d.v2)
	after, _ := masterkeys.Report(ctx, d.st.SealedFields(), keys)
	if after.Stale() != 0 || after.Keys[0].Total() != 11 || len(after.Unused()) != 1 || after.Unused()[0] != 1 {
		t.Fatalf("after: %+v", after)
	}
	// A second run finds nothing to do.
	if res, err := r.Run(ctx, 0); err != nil || res.Total() != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
}

// crashingFields stops the process (returns an error) after n re-seals, as a rotation
// killed half-way would.
type crashingFields struct {
	masterkeys.Fields
	left atomic.Int64
}

var errCrash = errors.New("killed")

func (c *crashingFields) Reseal(ctx context.Context, f store.SealedField, sealed []byte, keyID string) (bool, error) {
	if c.left.Add(-1) < 0 {
		return false, errCrash
	}
	return c.Fields.Reseal(ctx, f, sealed, keyID)
}

func TestRotationResumesAfterACrash(t *testing.T) {
	d := newDeployment(t, 9)
	ctx := t.Context()
	keys := []secret.MasterKey{d.v2, d.v1}
	crashing := &crashingFields{Fields: d.st.SealedFields()}
	crashing.left.Store(6)
	if _, err := (&masterkeys.Rotator{Fields: crashing, Cipher: d.cipher(t, keys...), Batch: 4}).Run(ctx, 0); !errors.Is(err, errCrash) {
		t.Fatalf("crashing run: %v", err)
	}
	// Half-way: some under each version, and the gateway (holding both) opens them all.
	mid, _ := masterkeys.Report(ctx, d.st.SealedFields(), keys)
	if mid.Keys[0].Total() != 6 || mid.Keys[1].Total() != 13-6 {
		t.Fatalf("after the crash: v2 %d, v1 %d", mid.Keys[0].Total(), mid.Keys[1].Total())
	}
	mfa := &authn.MFA{Cipher: d.cipher(t, keys...), Clock: clock.Real{}}
	for _, u := range d.users {
		if k, err := mfa.PendingTOTP(ctx, d.ws, u, "Acme"); err != nil || k.Secret != d.secrets[u.ID] {
			t.Fatalf("half-rotated TOTP key: %v", err)
		}
	}
	res, err := (&masterkeys.Rotator{Fields: d.st.SealedFields(), Cipher: d.cipher(t, keys...), Batch: 4}).Run(ctx, 0)
	if err != nil || res.Total() != 13-6 {
		t.Fatalf("resumed run: %+v %v", res, err)
	}
	d.checkOpensWithOnly(t, d.v2)
}

// An instance that has not read the key file yet keeps sealing under v1 for up to the
// settle time after the new version is written: the rotation's confirming pass waits
// for it, and catches what it sealed meanwhile — here during the wait, after a pass
// that already found nothing left.
func TestRotationWaitsForInstancesStillSealingUnderTheOldVersion(t *testing.T) {
	d := newDeployment(t, 2)
	ctx := t.Context()
	keys := []secret.MasterKey{d.v2, d.v1}
	old := &authn.MFA{Cipher: d.cipher(t, d.v1), Clock: clock.Real{}}
	clk := clock.NewFake(time.Now())
	var slept []time.Duration
	r := &masterkeys.Rotator{Fields: d.st.SealedFields(), Cipher: d.cipher(t, keys...), Clock: clk,
		Sleep: func(_ context.Context, dd time.Duration) error {
			slept = append(slept, dd)
			late := store.User{ID: secret.NewID(), Email: fmt.Sprintf("late%d@example.test", len(slept)), Status: store.UserActive,
				Roles: []string{"member"}, CreatedAt: time.Now()}
			if err := d.ws.Users().CreateUser(ctx, late); err != nil {
				return err
			}
			k, err := old.BeginTOTP(ctx, d.ws, late, "Acme")
			if err != nil {
				return err
			}
			d.users, d.secrets[late.ID] = append(d.users, late), k.Secret
			clk.Advance(dd)
			return nil
		}}
	res, err := r.Run(ctx, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != 6*time.Second || res.Passes != 3 || res.Resealed[store.SealedTOTP] != 3 {
		t.Fatalf("slept %v, result %+v", slept, res)
	}
	d.checkOpensWithOnly(t, d.v2)
}

// A value sealed under a version that is not in the key file cannot be re-sealed: it is
// reported, the rest is re-sealed, and the run ends.
func TestRotationReportsWhatItCannotOpen(t *testing.T) {
	d := newDeployment(t, 3)
	ctx := t.Context()
	lost := secret.NewMasterKey([]secret.MasterKey{d.v2})
	stranger := &authn.MFA{Cipher: d.cipher(t, lost), Clock: clock.Real{}}
	u := store.User{ID: secret.NewID(), Email: "x@example.test", Status: store.UserActive, Roles: []string{"member"}, CreatedAt: time.Now()}
	if err := d.ws.Users().CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := stranger.BeginTOTP(ctx, d.ws, u, "Acme"); err != nil {
		t.Fatal(err)
	}
	keys := []secret.MasterKey{d.v2, d.v1}
	st, _ := masterkeys.Report(ctx, d.st.SealedFields(), keys)
	if len(st.Unknown) != 1 || st.Unknown[0].KeyID != lost.KeyID() || st.Unknown[0].N != 1 {
		t.Fatalf("unknown key ids: %+v", st.Unknown)
	}
	res, err := (&masterkeys.Rotator{Fields: d.st.SealedFields(), Cipher: d.cipher(t, keys...)}).Run(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 1 || res.Failed[0].Field.ID != u.ID || !errors.Is(res.Failed[0].Err, secret.ErrUnknownKey) {
		t.Fatalf("failed: %+v", res.Failed)
	}
	d.checkOpensWithOnly(t, d.v2)
}

// The data keys start as the keys the gateway derived before they were stored, so an
// upgraded deployment's audit digests and refresh tokens keep verifying; instances
// starting together agree on one.
func TestDataKeysStartAsTheDerivedKeysAndStay(t *testing.T) {
	st := testdb.Store(t)
	ctx := t.Context()
	v1 := secret.NewMasterKey(nil)
	fc, _ := secret.NewVersionedFieldCipher([]secret.MasterKey{v1})
	legacyDigest, _ := audit.DigestKey(v1.Key)
	legacySuccessor, _ := secret.DeriveKey(v1.Key, "refresh successor v1")

	// A read-only command before any instance stored them gets the derived keys, and
	// stores nothing.
	ro, err := masterkeys.EnsureDataKeys(ctx, st.DataKeys(), fc, []secret.MasterKey{v1}, false, time.Now())
	if err != nil || !bytes.Equal(ro.AuditDigest, legacyDigest) {
		t.Fatalf("read-only: %v", err)
	}
	if _, err := st.DataKeys().DataKey(ctx, masterkeys.PurposeAuditDigest); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a read-only load stored a key: %v", err)
	}
	sets := make([]masterkeys.DataKeySet, 4)
	errs := make(chan error, len(sets))
	for i := range sets {
		go func() {
			var err error
			sets[i], err = masterkeys.EnsureDataKeys(ctx, st.DataKeys(), fc, []secret.MasterKey{v1}, true, time.Now())
			errs <- err
		}()
	}
	for range sets {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range sets {
		if !bytes.Equal(s.AuditDigest, legacyDigest) || !bytes.Equal(s.RefreshSuccessor, legacySuccessor) {
			t.Fatal("instances starting together got different data keys, or not the derived ones")
		}
	}
	// After a rotation, with a newer master key current, the stored keys win.
	v2 := secret.NewMasterKey([]secret.MasterKey{v1})
	both, _ := secret.NewVersionedFieldCipher([]secret.MasterKey{v2, v1})
	later, err := masterkeys.EnsureDataKeys(ctx, st.DataKeys(), both, []secret.MasterKey{v2, v1}, true, time.Now())
	if err != nil || !bytes.Equal(later.AuditDigest, legacyDigest) {
		t.Fatalf("data key after a new master key version: %v", err)
	}
	// An operator who lists a new version before the first start of a gateway that
	// keeps data keys still gets the keys derived from version 1, the one the old
	// gateway derived them from.
	fresh := testdb.Store(t)
	early, err := masterkeys.EnsureDataKeys(ctx, fresh.DataKeys(), both, []secret.MasterKey{v2, v1}, true, time.Now())
	if err != nil || !bytes.Equal(early.AuditDigest, legacyDigest) || !bytes.Equal(early.RefreshSuccessor, legacySuccessor) {
		t.Fatalf("data keys with v2 listed before the first start: %v", err)
	}
	// A stored key that does not open (wrong master key) is an error, never a new key.
	stranger, _ := secret.NewVersionedFieldCipher([]secret.MasterKey{secret.NewMasterKey(nil)})
	if _, err := masterkeys.EnsureDataKeys(ctx, st.DataKeys(), stranger, []secret.MasterKey{v2}, true, time.Now()); !errors.Is(err, secret.ErrUnknownKey) {
		t.Fatalf("foreign master key: %v", err)
	}
}
