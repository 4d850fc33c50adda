package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var tokenTests = []test{
	{"SingleUse", testTokenSingleUse},
	{"Expiry", testTokenExpiry},
	{"ConcurrentConsumers", testTokenConcurrent},
	{"Subject", testTokenSubject},
	{"RevokeSubjectTokens", testTokenRevokeSubject},
}

// wantLive checks that Check finds the token live for subject (and does not use it).
func wantLive(t *testing.T, what string, tok store.OneTimeTokenStore, purpose string, hash []byte, now time.Time, subject string) {
	t.Helper()
	got, err := tok.CheckOneTimeToken(ctx(t), purpose, hash, now)
	noErr(t, what, err)
	if got != subject {
		t.Errorf("%s: subject %q, want %q", what, got, subject)
	}
}

// wantDead checks that Check finds no live token.
func wantDead(t *testing.T, what string, tok store.OneTimeTokenStore, purpose string, hash []byte, now time.Time) {
	t.Helper()
	got, err := tok.CheckOneTimeToken(ctx(t), purpose, hash, now)
	wantErr(t, what, err, store.ErrNotFound)
	if got != "" {
		t.Errorf("%s: subject %q with the error, want none", what, got)
	}
}

// consume uses the token and checks the subject it returns.
func consume(t *testing.T, what string, tok store.OneTimeTokenStore, purpose string, hash []byte, now time.Time, subject string) {
	t.Helper()
	got, err := tok.ConsumeOneTimeToken(ctx(t), purpose, hash, now)
	noErr(t, what, err)
	if got != subject {
		t.Errorf("%s: subject %q, want %q", what, got, subject)
	}
}

// consumeFails checks that Consume refuses the token with ErrNotFound.
func consumeFails(t *testing.T, what string, tok store.OneTimeTokenStore, purpose string, hash []byte, now time.Time) {
	t.Helper()
	got, err := tok.ConsumeOneTimeToken(ctx(t), purpose, hash, now)
	wantErr(t, what, err, store.ErrNotFound)
	if got != "" {
		t.Errorf("%s: subject %q with the error, want none", what, got)
	}
}

func testTokenSingleUse(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	hash, other := randBytes(32), randBytes(32)
	expires := base.Add(time.Hour)
	now := base.Add(time.Minute)
	noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "setup", hash, "us-1", expires))
	noErr(t, "CreateOneTimeToken other", tok.CreateOneTimeToken(ctx(t), "setup", other, "us-2", expires))

	wantLive(t, "CheckOneTimeToken live", tok, "setup", hash, now, "us-1")
	wantLive(t, "CheckOneTimeToken twice (Check does not use it)", tok, "setup", hash, now, "us-1")
	wantDead(t, "CheckOneTimeToken wrong purpose", tok, "reset", hash, now)
	consumeFails(t, "ConsumeOneTimeToken wrong purpose", tok, "reset", hash, now)

	consume(t, "ConsumeOneTimeToken", tok, "setup", hash, now, "us-1")
	consumeFails(t, "ConsumeOneTimeToken again", tok, "setup", hash, now)
	wantDead(t, "CheckOneTimeToken used", tok, "setup", hash, now)

	// Using one token leaves the others alone.
	wantLive(t, "CheckOneTimeToken other", tok, "setup", other, now, "us-2")

	unknown := randBytes(32)
	wantDead(t, "CheckOneTimeToken unknown", tok, "setup", unknown, now)
	consumeFails(t, "ConsumeOneTimeToken unknown", tok, "setup", unknown, now)
}

func testTokenExpiry(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	hash := randBytes(32)
	expires := base.Add(time.Hour)
	noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "invite", hash, "us-1", expires))

	// A token is dead from its expiry instant on.
	wantDead(t, "CheckOneTimeToken at expiry", tok, "invite", hash, expires)
	consumeFails(t, "ConsumeOneTimeToken at expiry", tok, "invite", hash, expires)
	consumeFails(t, "ConsumeOneTimeToken after expiry", tok, "invite", hash, expires.Add(time.Hour))

	// The failed attempts did not use it up: just before expiry it still works.
	just := expires.Add(-time.Microsecond)
	wantLive(t, "CheckOneTimeToken just before expiry", tok, "invite", hash, just, "us-1")
	consume(t, "ConsumeOneTimeToken just before expiry", tok, "invite", hash, just, "us-1")
}

// testTokenConcurrent races 20 consumers for one token (in several rounds): exactly
// one may win and learn the subject, and every loser must see ErrNotFound (not a lock
// or serialisation error).
func testTokenConcurrent(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	for range raceRounds {
		hash, subject := randBytes(32), "us-"+randHex(4)
		noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "reset", hash, subject, base.Add(time.Hour)))
		errs := race(20, func() error {
			got, err := tok.ConsumeOneTimeToken(t.Context(), "reset", hash, base.Add(time.Minute))
			if err == nil && got != subject {
				t.Errorf("winning ConsumeOneTimeToken: subject %q, want %q", got, subject)
			}
			return err
		})
		exactlyOneWins(t, "concurrent ConsumeOneTimeToken", errs, store.ErrNotFound)
	}
}

// testTokenSubject: the subject round-trips exactly, "" included (a token for nobody),
// and belongs to its token: tokens of one purpose for different subjects are apart.
func testTokenSubject(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	now, expires := base.Add(time.Minute), base.Add(time.Hour)
	subjects := []string{"", "us-" + randHex(6), "Ünïcode-Subject/with spaces"}
	hashes := make([][]byte, len(subjects))
	for i, subject := range subjects {
		hashes[i] = randBytes(32)
		noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "invite", hashes[i], subject, expires))
	}
	for i, subject := range subjects {
		wantLive(t, "CheckOneTimeToken", tok, "invite", hashes[i], now, subject)
	}
	for i, subject := range subjects {
		consume(t, "ConsumeOneTimeToken", tok, "invite", hashes[i], now, subject)
	}

	// The same hash for another purpose is another token, with its own subject.
	shared := randBytes(32)
	noErr(t, "CreateOneTimeToken invite", tok.CreateOneTimeToken(ctx(t), "invite", shared, "us-a", expires))
	noErr(t, "CreateOneTimeToken reset, same hash", tok.CreateOneTimeToken(ctx(t), "reset", shared, "us-b", expires))
	consume(t, "ConsumeOneTimeToken reset", tok, "reset", shared, now, "us-b")
	wantLive(t, "CheckOneTimeToken invite after the reset was used", tok, "invite", shared, now, "us-a")
	wantErr(t, "CreateOneTimeToken with a taken hash and purpose",
		tok.CreateOneTimeToken(ctx(t), "invite", shared, "us-c", expires), store.ErrConflict)
	wantLive(t, "CheckOneTimeToken after the refused duplicate", tok, "invite", shared, now, "us-a")
}

// testTokenRevokeSubject: RevokeSubjectTokens uses up exactly the live tokens of one
// purpose and subject; other purposes, other subjects and later tokens stay usable.
func testTokenRevokeSubject(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	now, expires := base.Add(time.Minute), base.Add(time.Hour)
	create := func(purpose, subject string) []byte {
		t.Helper()
		h := randBytes(32)
		noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), purpose, h, subject, expires))
		return h
	}
	reset1, reset2 := create("reset", "us-a"), create("reset", "us-a")
	used := create("reset", "us-a")
	consume(t, "ConsumeOneTimeToken before the revocation", tok, "reset", used, base, "us-a")
	inviteA := create("invite", "us-a")
	resetB := create("reset", "us-b")
	resetNone := create("reset", "")

	noErr(t, "RevokeSubjectTokens", tok.RevokeSubjectTokens(ctx(t), "reset", "us-a", now))
	wantDead(t, "CheckOneTimeToken first revoked", tok, "reset", reset1, now)
	wantDead(t, "CheckOneTimeToken second revoked", tok, "reset", reset2, now)
	consumeFails(t, "ConsumeOneTimeToken revoked", tok, "reset", reset1, now)
	consumeFails(t, "ConsumeOneTimeToken used before", tok, "reset", used, now)
	wantLive(t, "CheckOneTimeToken other purpose, same subject", tok, "invite", inviteA, now, "us-a")
	wantLive(t, "CheckOneTimeToken same purpose, other subject", tok, "reset", resetB, now, "us-b")
	wantLive(t, "CheckOneTimeToken same purpose, no subject", tok, "reset", resetNone, now, "")

	// Revocation is not a ban: a token issued afterwards works.
	fresh := create("reset", "us-a")
	consume(t, "ConsumeOneTimeToken issued after the revocation", tok, "reset", fresh, now, "us-a")

	noErr(t, "RevokeSubjectTokens again (nothing left)", tok.RevokeSubjectTokens(ctx(t), "reset", "us-a", now))
	noErr(t, "RevokeSubjectTokens of an unknown subject", tok.RevokeSubjectTokens(ctx(t), "reset", "us-missing", now))
	consume(t, "ConsumeOneTimeToken of the other subject", tok, "reset", resetB, now, "us-b")
}
