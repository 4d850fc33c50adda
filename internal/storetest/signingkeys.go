package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The signing keys are shared by the whole deployment, so the suite's keys live next
// to those of other subtests and runs: each test gives its kids a random prefix and
// looks only at those.
var signingKeyTests = []test{
	{"CreateAndList", testSigningKeysList},
	{"DuplicateKID", testSigningKeyDuplicate},
	{"ConcurrentCreate", testSigningKeyConcurrent},
}

func checkSigningKey(t *testing.T, what string, got, want store.SigningKey) {
	t.Helper()
	if got.KID != want.KID || got.Algorithm != want.Algorithm || !bytes.Equal(got.PublicKey, want.PublicKey) ||
		!bytes.Equal(got.PrivateKey, want.PrivateKey) || got.SealKeyID != want.SealKeyID {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" ActivatesAt", got.ActivatesAt, want.ActivatesAt)
}

func signingKey(kid string, created, activates time.Time) store.SigningKey {
	return store.SigningKey{
		KID:         kid,
		Algorithm:   "ES256",
		PublicKey:   randBytes(91),
		PrivateKey:  randBytes(150),
		SealKeyID:   "fk-" + randHex(4),
		CreatedAt:   created,
		ActivatesAt: activates,
	}
}

// listedKeys returns the listed keys whose kid starts with prefix, in list order.
func listedKeys(t *testing.T, st store.Store, prefix string) []store.SigningKey {
	t.Helper()
	all, err := st.SigningKeys().ListSigningKeys(ctx(t))
	noErr(t, "ListSigningKeys", err)
	var out []store.SigningKey
	for _, k := range all {
		if strings.HasPrefix(k.KID, prefix) {
			out = append(out, k)
		}
	}
	return out
}

// testSigningKeysList: every field round-trips exactly (zero times included), and the
// list is ordered by activation time (the zero time first), then kid, whatever the
// order of creation.
func testSigningKeysList(t *testing.T, st store.Store) {
	prefix := "kid-" + randHex(6) + "-"
	var never time.Time
	unset := signingKey(prefix+"m", never, never)
	first := signingKey(prefix+"z", base.Add(-time.Hour), base)
	second := signingKey(prefix+"y", base, base.Add(time.Hour+time.Nanosecond))
	tieA := signingKey(prefix+"a", base.Add(time.Hour), base.Add(2*time.Hour))
	tieB := signingKey(prefix+"b", base, base.Add(2*time.Hour))
	for _, k := range []store.SigningKey{tieB, second, unset, tieA, first} {
		noErr(t, "CreateSigningKey "+k.KID, st.SigningKeys().CreateSigningKey(ctx(t), k))
	}
	want := []store.SigningKey{unset, first, second, tieA, tieB}
	got := listedKeys(t, st, prefix)
	if len(got) != len(want) {
		t.Fatalf("ListSigningKeys has %d of the test's keys, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		checkSigningKey(t, "ListSigningKeys["+want[i].KID+"]", got[i], want[i])
	}
}

// testSigningKeyDuplicate: a kid that exists is ErrConflict and the stored key stays.
func testSigningKeyDuplicate(t *testing.T, st store.Store) {
	prefix := "kid-" + randHex(6)
	k := signingKey(prefix, base, base)
	noErr(t, "CreateSigningKey", st.SigningKeys().CreateSigningKey(ctx(t), k))
	dup := signingKey(prefix, base.Add(time.Hour), base.Add(time.Hour))
	wantErr(t, "CreateSigningKey with a taken kid", st.SigningKeys().CreateSigningKey(ctx(t), dup), store.ErrConflict)
	got := listedKeys(t, st, prefix)
	if len(got) != 1 {
		t.Fatalf("ListSigningKeys has %d keys of kid %q, want 1", len(got), prefix)
	}
	checkSigningKey(t, "key after the refused duplicate", got[0], k)
}

// testSigningKeyConcurrent: instances creating a key of one kid at once: exactly one
// succeeds, the others see ErrConflict, and one key is stored.
func testSigningKeyConcurrent(t *testing.T, st store.Store) {
	for range raceRounds {
		kid := "kid-" + randHex(6)
		errs := race(8, func() error {
			return st.SigningKeys().CreateSigningKey(t.Context(), signingKey(kid, base, base))
		})
		exactlyOneWins(t, "concurrent CreateSigningKey", errs, store.ErrConflict)
		if got := listedKeys(t, st, kid); len(got) != 1 {
			t.Fatalf("ListSigningKeys has %d keys of kid %q, want 1", len(got), kid)
		}
	}
}
