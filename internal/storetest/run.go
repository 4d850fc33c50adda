package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Run runs the conformance suite. open is called once per subtest and must return a
// working store; Run closes it when the subtest ends. Subtests run one after another
// so that a suite against a shared PostgreSQL holds a bounded number of connections.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Tenants", tenantTests},
		{"Users", userTests},
		{"SoftDelete", softDeleteTests},
		{"SoftDeleteRBAC", softDeleteRBACTests},
		{"SoftDeleteFactors", softDeleteFactorTests},
		{"Sessions", sessionTests},
		{"Audit", auditTests},
		{"OneTimeTokens", tokenTests},
		{"TOTP", totpTests},
		{"RecoveryCodes", recoveryTests},
		{"Passkeys", passkeyTests},
		{"Settings", settingsTests},
		{"LoginHistory", loginHistoryTests},
		{"RefreshTokens", refreshTokenTests},
		{"Roles", roleTests},
		{"Teams", teamTests},
		{"Periods", periodTests},
		{"PrivacyRequests", privacyTests},
		{"EmailChanges", emailChangeTests},
		{"OutboxErasure", outboxErasureTests},
		{"SigningKeys", signingKeyTests},
		{"Sealed", sealedTests},
		{"AuditCheckpoints", checkpointTests},
		{"AuditCuts", auditCutTests},
		{"Maintenance", maintenanceTests},
		{"Isolation", isolationTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					st := open(t)
					t.Cleanup(func() {
						if err := st.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, st)
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, st store.Store)
}

// base is a fixed instant with a full nanosecond part, to catch backends that round.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

func ctx(t *testing.T) context.Context { return t.Context() }

// randHex returns n random bytes in hex: unique ids, slugs and hosts per run.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b)
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// newTenant creates a tenant with random id, slug and one host, and returns it.
func newTenant(t *testing.T, st store.Store) store.Tenant {
	t.Helper()
	r := randHex(8)
	tn := store.Tenant{
		ID:        "tn-" + r,
		Slug:      "st-" + r,
		Name:      "Tenant " + r,
		Hosts:     []string{r + ".example.test"},
		CreatedAt: base,
	}
	if err := st.Tenants().CreateTenant(ctx(t), tn); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	return tn
}

// newUser creates an active user with a random id and e-mail in h's tenant.
func newUser(t *testing.T, h store.TenantHandle) store.User {
	t.Helper()
	return newUserWithID(t, h, "us-"+randHex(6))
}

// newUserWithID creates an active user with the given id (user ids are per tenant, so
// two tenants may each have a user "us-x") and a random e-mail.
func newUserWithID(t *testing.T, h store.TenantHandle, id string) store.User {
	t.Helper()
	r := randHex(6)
	u := store.User{
		ID:          id,
		Email:       r + "@example.test",
		DisplayName: "User " + r,
		Status:      store.UserActive,
		Roles:       []string{"member"},
		CreatedAt:   base,
	}
	if err := h.Users().CreateUser(ctx(t), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	u.TenantID = h.TenantID()
	return u
}

// newSession creates a live session of userID, created at created.
func newSession(t *testing.T, h store.TenantHandle, userID string, created time.Time) store.Session {
	t.Helper()
	s := store.Session{
		ID:          "se-" + randHex(6),
		UserID:      userID,
		TokenHash:   randBytes(32),
		AuthMethods: []string{"pwd"},
		CreatedAt:   created,
		ExpiresAt:   created.Add(24 * time.Hour),
		LastActive:  created,
		IP:          "192.0.2.1",
		UserAgent:   "storetest",
	}
	if err := h.Sessions().CreateSession(ctx(t), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	s.TenantID = h.TenantID()
	return s
}

// ChainHash is the suite's record hash: SHA-256 over the previous hash and a
// length-prefixed encoding of every field. Recomputing it from a record read back
// proves that every hashed field round-trips exactly. Like the real chain (package
// audit), a record of version 2 or later is hashed with its version and PIIDigest
// instead of its personal fields (ActorEmail, IP, UserAgent, Details), which
// ErasePersonal may empty.
func ChainHash(r store.AuditRecord) []byte {
	h := sha256.New()
	var n [8]byte
	num := func(v uint64) { binary.BigEndian.PutUint64(n[:], v); h.Write(n[:]) }
	str := func(s string) { num(uint64(len(s))); h.Write([]byte(s)) }
	h.Write(r.PrevHash)
	num(uint64(r.Seq))
	str(r.Time.UTC().Format(time.RFC3339Nano))
	if r.Version >= 2 {
		for _, s := range []string{r.TenantID, r.ActorID, r.Action, r.Target, r.Outcome, r.SessionID, r.RequestID, string(r.PIIDigest)} {
			str(s)
		}
		num(uint64(r.Version))
		return h.Sum(nil)
	}
	for _, s := range []string{r.TenantID, r.ActorID, r.ActorEmail, r.Action, r.Target, r.Outcome,
		r.IP, r.UserAgent, r.SessionID, r.RequestID} {
		str(s)
	}
	keys := make([]string, 0, len(r.Details))
	for k := range r.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	num(uint64(len(keys)))
	for _, k := range keys {
		str(k)
		str(r.Details[k])
	}
	return h.Sum(nil)
}

// raceRounds is how often the single-use tests race: whether a check-then-act bug
// shows depends on timing, and one round misses it about half the time.
const raceRounds = 6

// race calls fn from n goroutines released at once and returns their errors.
func race(n int, fn func() error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// raceEach calls every fn from its own goroutine, released at once, and returns
// their errors in the order of fns.
func raceEach(fns ...func() error) []error {
	errs := make([]error, len(fns))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() {
			<-start
			errs[i] = fn()
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOneWins checks the errors of a race: one nil, every other one loser
// (errors.Is), never a lock, serialisation or other error.
func exactlyOneWins(t *testing.T, what string, errs []error, loser error) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			t.Errorf("%s: %v, want nil or %v", what, err, loser)
		}
	}
	if wins != 1 {
		t.Fatalf("%s: %d of %d concurrent calls succeeded, want exactly 1", what, wins, len(errs))
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}
