package token

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// TestKeysAreSharedAndSealed: the first instance makes the key; another instance on the
// same store uses it rather than making its own; the store holds the private key only
// sealed; the JWKS holds the public key only, named by its RFC 7638 thumbprint.
func TestKeysAreSharedAndSealed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	other := f.ring("b")
	if err := other.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := f.st.SigningKeys().ListSigningKeys(ctx)
	if err != nil || len(stored) != 1 {
		t.Fatalf("keys in the store: %d %v", len(stored), err)
	}
	k := stored[0]
	if k.Algorithm != "ES256" || k.SealKeyID == "" || !k.ActivatesAt.Equal(k.CreatedAt) {
		t.Fatalf("stored key %+v", k)
	}
	if priv := f.keys.signing(f.clk.Now()).priv; bytes.Contains(k.PrivateKey, priv.D.Bytes()) { //nolint:staticcheck // the scalar, to look for it
		t.Fatal("the private scalar is stored in the clear")
	}
	if kids := jwksKids(t, other); !slices.Equal(kids, []string{k.KID}) || k.KID != thumbprint(&f.keys.signing(f.clk.Now()).priv.PublicKey) {
		t.Fatalf("JWKS kids %v, stored kid %s", kids, k.KID)
	}
	if bytes.Contains(f.keys.JWKS(), []byte(`"d"`)) {
		t.Fatal("the JWKS carries a private member")
	}
	// A token signed by one instance verifies on the other.
	_, g := f.issued(t, "ann@acme.test")
	if _, err := (&Verifier{Keys: other, Clock: f.clk}).Verify(g.AccessToken, site, f.ws.TenantID()); err != nil {
		t.Fatalf("the other instance refuses the token: %v", err)
	}
	// Another master key cannot sign with the stored key (and says so), but verifies.
	wrong, _ := secret.NewFieldCipher(bytes.Repeat([]byte{1}, 32))
	stranger := &KeyRing{Store: f.st.SigningKeys(), Leases: f.st.Maintenance(), Cipher: wrong, Holder: "c", Clock: f.clk}
	if err := stranger.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if stranger.signing(f.clk.Now()) != nil {
		t.Fatal("a key opened with another master key")
	}
	if _, err := (&Verifier{Keys: stranger, Clock: f.clk}).Verify(g.AccessToken, site, f.ws.TenantID()); err != nil {
		t.Fatalf("verifying without the private key: %v", err)
	}
}

// TestInstancesStartingTogetherMakeOneKey: several instances starting at once on an
// empty store end up with one key between them.
func TestInstancesStartingTogetherMakeOneKey(t *testing.T) {
	t.Parallel()
	f := newStoreFixture(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f.ring(string(rune('a' + i))).Ensure(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if keys, _ := f.st.SigningKeys().ListSigningKeys(ctx); len(keys) != 1 {
		t.Fatalf("%d keys made by six instances starting together", len(keys))
	}
}

// TestRotationPublishesFirstAndRetiresLate walks a rotation: the new key is in the JWKS
// at once but signs only after PublishLead; the old one stops signing then and stays
// published RetireAfter longer, so its last tokens still verify until they expire.
func TestRotationPublishesFirstAndRetiresLate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	oldKID := f.keys.signing(f.clk.Now()).kid
	f.clk.Advance(DefaultRotation) // due
	e := f.signedIn(t, "ann@acme.test")
	rotated, err := f.keys.RotateIfDue(ctx)
	if err != nil || !rotated {
		t.Fatalf("rotation when due: %v %v", rotated, err)
	}
	if again, err := f.ring("b").RotateIfDue(ctx); err != nil || again {
		t.Fatalf("another instance rotated again: %v %v", again, err)
	}
	newKID := f.keys.Describe(f.clk.Now())[1].KID
	if kids := jwksKids(t, f.keys); !slices.Equal(kids, []string{oldKID, newKID}) {
		t.Fatalf("JWKS right after the rotation: %v", kids)
	}
	g, err := f.svc.Issue(ctx, f.ws, Client{Site: site}, e)
	if err != nil {
		t.Fatal(err)
	}
	if kid := headerKID(t, g.AccessToken); kid != oldKID {
		t.Fatalf("signed with %s before the new key's time (old %s)", kid, oldKID)
	}
	f.clk.Advance(PublishLead)
	late, err := f.svc.Issue(ctx, f.ws, Client{Site: site}, e)
	if err != nil || headerKID(t, late.AccessToken) != newKID {
		t.Fatalf("after PublishLead: %v, kid %s", err, headerKID(t, late.AccessToken))
	}
	// The old key's token, minted PublishLead ago, still verifies: its key is
	// published and it has 5 of its 15 minutes left.
	if _, err := f.sessionOf(g.AccessToken); err != nil {
		t.Fatalf("the old key's token before its expiry: %v", err)
	}
	f.clk.Advance(RetireAfter)
	if kids := jwksKids(t, f.keys); !slices.Equal(kids, []string{newKID}) {
		t.Fatalf("JWKS RetireAfter past the switch: %v", kids)
	}
}

func headerKID(t *testing.T, raw string) string {
	t.Helper()
	in, err := (&KeyRing{}).Inspect(raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := in.Header["kid"].(string)
	return kid
}
