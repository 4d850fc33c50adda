package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var tokenTests = []test{
	{"SingleUse", testTokenSingleUse},
	{"Expiry", testTokenExpiry},
	{"ConcurrentConsumers", testTokenConcurrent},
}

func testTokenSingleUse(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	hash, other := randBytes(32), randBytes(32)
	expires := base.Add(time.Hour)
	now := base.Add(time.Minute)
	noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "setup", hash, expires))
	noErr(t, "CreateOneTimeToken other", tok.CreateOneTimeToken(ctx(t), "setup", other, expires))

	noErr(t, "CheckOneTimeToken live", tok.CheckOneTimeToken(ctx(t), "setup", hash, now))
	noErr(t, "CheckOneTimeToken twice (Check does not use it)", tok.CheckOneTimeToken(ctx(t), "setup", hash, now))
	wantErr(t, "CheckOneTimeToken wrong purpose", tok.CheckOneTimeToken(ctx(t), "reset", hash, now), store.ErrNotFound)
	wantErr(t, "ConsumeOneTimeToken wrong purpose", tok.ConsumeOneTimeToken(ctx(t), "reset", hash, now), store.ErrNotFound)

	noErr(t, "ConsumeOneTimeToken", tok.ConsumeOneTimeToken(ctx(t), "setup", hash, now))
	wantErr(t, "ConsumeOneTimeToken again", tok.ConsumeOneTimeToken(ctx(t), "setup", hash, now), store.ErrNotFound)
	wantErr(t, "CheckOneTimeToken used", tok.CheckOneTimeToken(ctx(t), "setup", hash, now), store.ErrNotFound)

	// Using one token leaves the others alone.
	noErr(t, "CheckOneTimeToken other", tok.CheckOneTimeToken(ctx(t), "setup", other, now))

	unknown := randBytes(32)
	wantErr(t, "CheckOneTimeToken unknown", tok.CheckOneTimeToken(ctx(t), "setup", unknown, now), store.ErrNotFound)
	wantErr(t, "ConsumeOneTimeToken unknown", tok.ConsumeOneTimeToken(ctx(t), "setup", unknown, now), store.ErrNotFound)
}

func testTokenExpiry(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	hash := randBytes(32)
	expires := base.Add(time.Hour)
	noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "invite", hash, expires))

	// A token is dead from its expiry instant on.
	wantErr(t, "CheckOneTimeToken at expiry", tok.CheckOneTimeToken(ctx(t), "invite", hash, expires), store.ErrNotFound)
	wantErr(t, "ConsumeOneTimeToken at expiry", tok.ConsumeOneTimeToken(ctx(t), "invite", hash, expires), store.ErrNotFound)
	wantErr(t, "ConsumeOneTimeToken after expiry", tok.ConsumeOneTimeToken(ctx(t), "invite", hash, expires.Add(time.Hour)), store.ErrNotFound)

	// The failed attempts did not use it up: just before expiry it still works.
	just := expires.Add(-time.Microsecond)
	noErr(t, "CheckOneTimeToken just before expiry", tok.CheckOneTimeToken(ctx(t), "invite", hash, just))
	noErr(t, "ConsumeOneTimeToken just before expiry", tok.ConsumeOneTimeToken(ctx(t), "invite", hash, just))
}

// testTokenConcurrent races 20 consumers for one token: exactly one may win, and every
// loser must see ErrNotFound (not a lock or serialisation error).
func testTokenConcurrent(t *testing.T, st store.Store) {
	tok := st.Tenant(newTenant(t, st).ID).OneTimeTokens()
	hash := randBytes(32)
	noErr(t, "CreateOneTimeToken", tok.CreateOneTimeToken(ctx(t), "reset", hash, base.Add(time.Hour)))

	const consumers = 20
	results := make([]error, consumers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range consumers {
		wg.Go(func() {
			<-start
			results[i] = tok.ConsumeOneTimeToken(t.Context(), "reset", hash, base.Add(time.Minute))
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("concurrent ConsumeOneTimeToken: %v, want nil or ErrNotFound", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d of %d concurrent consumers succeeded, want exactly 1", wins, consumers)
	}
}
