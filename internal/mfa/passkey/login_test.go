package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// loginOptions is what the tests read from request options.
type loginOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	UserVerification string `json:"userVerification"`
	AllowCredentials []struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"allowCredentials"`
}

func (f *fixture) beginLogin(t *testing.T, user *store.User) (json.RawMessage, string) {
	t.Helper()
	opts, ceremony, err := f.svc.BeginLogin(context.Background(), f.tenant, testSite, user)
	if err != nil {
		t.Fatal(err)
	}
	return opts, ceremony
}

func TestPasswordlessLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := newSoftAuthenticator(t, true)
	a.flags = protocol.FlagBackupEligible
	pk := f.register(t, alice, a)
	f.register(t, bob, newSoftAuthenticator(t, true))

	opts, ceremony := f.beginLogin(t, nil)
	var o loginOptions
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	if o.RPID != "auth.example.com" || o.UserVerification != "required" || len(o.AllowCredentials) != 0 {
		t.Fatalf("options = %s", opts)
	}

	f.clock.Advance(time.Minute)
	a.flags |= protocol.FlagBackupState // synced since registration
	userID, got, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
	if err != nil {
		t.Fatal(err)
	}
	if userID != alice.ID || got.ID != pk.ID || got.SignCount != 1 || !got.BackupState || !got.LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("FinishLogin = %q, %+v", userID, got)
	}
	stored, _ := f.tenant.Passkeys().PasskeyByCredentialID(ctx, a.credID)
	if stored.SignCount != 1 || !stored.BackupState || !stored.LastUsedAt.Equal(f.clock.Now()) {
		t.Fatalf("use not recorded: %+v", stored)
	}
}

func TestSecondFactorLogin(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a1, a2 := newSoftAuthenticator(t, true), newSoftAuthenticator(t, false)
	f.register(t, alice, a1)
	pk2 := f.register(t, alice, a2)
	bobs := newSoftAuthenticator(t, true)
	f.register(t, bob, bobs)

	opts, ceremony := f.beginLogin(t, &alice)
	var o loginOptions
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	if o.UserVerification != "required" || len(o.AllowCredentials) != 2 ||
		o.AllowCredentials[0].ID != b64.EncodeToString(a1.credID) || o.AllowCredentials[1].ID != b64.EncodeToString(a2.credID) {
		t.Fatalf("options = %s", opts)
	}
	// A second-factor assertion may come without a user handle (non-discoverable use).
	cred := a2.get(t, opts, testOrigin, func(p *params) { p.userHandle = nil })
	got, err := f.svc.FinishSecondFactor(ctx, f.tenant, testSite, alice.ID, ceremony, cred)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != pk2.ID || got.SignCount != 0 {
		t.Fatalf("passkey = %+v", got)
	}

	// FinishLogin accepts a second-factor ceremony and names its user.
	opts, ceremony = f.beginLogin(t, &alice)
	userID, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a1.get(t, opts, testOrigin, nil))
	if err != nil || userID != alice.ID {
		t.Fatalf("FinishLogin = %q, %v", userID, err)
	}

	// Bob's passkey in Alice's second-factor ceremony, also with a forged user handle.
	for _, handle := range [][]byte{[]byte(bob.ID), []byte(alice.ID)} {
		opts, ceremony = f.beginLogin(t, &alice)
		cred = bobs.get(t, opts, testOrigin, func(p *params) { p.userHandle = handle })
		_, err = f.svc.FinishSecondFactor(ctx, f.tenant, testSite, alice.ID, ceremony, cred)
		wantErr(t, err, ErrUnknownCredential)
	}

	// Alice's ceremony finished as Bob's second factor; a passwordless ceremony as a
	// second factor.
	opts, ceremony = f.beginLogin(t, &alice)
	_, err = f.svc.FinishSecondFactor(ctx, f.tenant, testSite, bob.ID, ceremony, bobs.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)
	opts, ceremony = f.beginLogin(t, nil)
	_, err = f.svc.FinishSecondFactor(ctx, f.tenant, testSite, alice.ID, ceremony, a1.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)

	// A user without passkeys.
	carol := store.User{ID: "u-carol", TenantID: "t1", Email: "carol@example.com"}
	_, _, err = f.svc.BeginLogin(ctx, f.tenant, testSite, &carol)
	wantErr(t, err, ErrNoPasskeys)
}

func TestLoginRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*params)
		want error
	}{
		{"wrong origin", func(p *params) { p.origin = "https://auth.example.com.evil.com" }, ErrVerification},
		{"http origin", func(p *params) { p.origin = "http://auth.example.com" }, ErrVerification},
		{"wrong RP ID hash", func(p *params) { p.rpID = "example.com" }, ErrVerification},
		{"wrong challenge", func(p *params) { p.challenge = b64.EncodeToString(make([]byte, 32)) }, ErrVerification},
		{"wrong type", func(p *params) { p.typ = "webauthn.create" }, ErrVerification},
		{"UV missing", func(p *params) { p.flags &^= protocol.FlagUserVerified }, ErrVerification},
		{"UP missing", func(p *params) { p.flags &^= protocol.FlagUserPresent }, ErrVerification},
		{"bad signature", func(p *params) { p.badSig = true }, ErrVerification},
		{"backup state without eligibility", func(p *params) { p.flags |= protocol.FlagBackupState }, ErrVerification},
		{"backup eligibility changed", func(p *params) { p.flags |= protocol.FlagBackupEligible }, ErrVerification},
		{"no user handle", func(p *params) { p.userHandle = nil }, ErrVerification},
		{"user handle of another user", func(p *params) { p.userHandle = []byte(bob.ID) }, ErrUnknownCredential},
		{"unknown credential", func(p *params) { p.credID = []byte("never registered") }, ErrUnknownCredential},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			a := newSoftAuthenticator(t, true)
			f.register(t, alice, a)
			f.register(t, bob, newSoftAuthenticator(t, true))
			opts, ceremony := f.beginLogin(t, nil)
			_, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, tc.mod))
			wantErr(t, err, tc.want)
			if stored, _ := f.tenant.Passkeys().PasskeyByCredentialID(ctx, a.credID); !stored.LastUsedAt.IsZero() {
				t.Fatal("refused assertion recorded as a use")
			}
		})
	}
}

func TestSignCount(t *testing.T) {
	ctx := context.Background()
	t.Run("regression refused", func(t *testing.T) {
		f := newFixture(t)
		a := newSoftAuthenticator(t, true)
		a.count = 5
		f.register(t, alice, a)
		for _, tc := range []struct {
			count uint32
			want  error
		}{
			{6, nil},
			{6, ErrSignCountRegression}, // replayed counter (a clone)
			{3, ErrSignCountRegression},
			{0, ErrSignCountRegression}, // a counting authenticator cannot start reporting 0
			{9, nil},
		} {
			opts, ceremony := f.beginLogin(t, nil)
			user, p, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, func(p *params) { p.count = tc.count }))
			if tc.want == nil {
				if err != nil || p.SignCount != tc.count {
					t.Fatalf("count %d: %v, stored %d", tc.count, err, p.SignCount)
				}
				continue
			}
			wantErr(t, err, tc.want)
			if user != alice.ID { // the audit record of a suspected clone names whose passkey it is
				t.Fatalf("count %d refused for user %q, want the owner %q", tc.count, user, alice.ID)
			}
		}
		if stored, _ := f.tenant.Passkeys().PasskeyByCredentialID(ctx, a.credID); stored.SignCount != 9 {
			t.Fatalf("stored count %d", stored.SignCount)
		}
	})
	t.Run("zero is fine", func(t *testing.T) {
		f := newFixture(t)
		a := newSoftAuthenticator(t, false)
		f.register(t, alice, a)
		for range 3 {
			opts, ceremony := f.beginLogin(t, nil)
			if _, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil)); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("store compare catches a race", func(t *testing.T) {
		f := newFixture(t)
		a := newSoftAuthenticator(t, true)
		f.register(t, alice, a)
		// Another sign-in with the same count commits between our read and our write.
		f.backend.beforeRecord = func(p *store.Passkey) { p.SignCount = 1 }
		opts, ceremony := f.beginLogin(t, nil)
		_, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
		wantErr(t, err, ErrSignCountRegression)
	})
}

// Two sign-ins racing with the same counter value: exactly one wins.
func TestSignCountConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := newSoftAuthenticator(t, true)
	f.register(t, alice, a)
	const n = 8
	creds, ceremonies := make([][]byte, n), make([]string, n)
	for i := range n {
		opts, ceremony := f.beginLogin(t, nil)
		creds[i] = a.get(t, opts, testOrigin, func(p *params) { p.count = 1 })
		ceremonies[i] = ceremony
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, _, errs[i] = f.svc.FinishLogin(ctx, f.tenant, testSite, ceremonies[i], creds[i]) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrSignCountRegression):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d concurrent assertions with one count accepted", ok, n)
	}
}

func TestLoginCeremonyBinding(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := newSoftAuthenticator(t, true)
	f.register(t, alice, a)

	// Replay: the same ceremony and assertion a second time.
	opts, ceremony := f.beginLogin(t, nil)
	cred := a.get(t, opts, testOrigin, nil)
	if _, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, cred); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, cred)
	wantErr(t, err, ErrCeremony)

	// Another tenant, even one where the same credential id is unknown.
	opts, ceremony = f.beginLogin(t, nil)
	_, _, err = f.svc.FinishLogin(ctx, f.backend.tenant("t2"), testSite, ceremony, a.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)

	// Another site of the same tenant.
	opts, ceremony = f.beginLogin(t, nil)
	_, _, err = f.svc.FinishLogin(ctx, f.tenant, Site{Host: "auth.example.com:8443", HTTPS: true}, ceremony, a.get(t, opts, "https://auth.example.com:8443", nil))
	wantErr(t, err, ErrCeremony)

	// Expired.
	opts, ceremony = f.beginLogin(t, nil)
	f.clock.Advance(CeremonyTTL + time.Second)
	_, _, err = f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)

	// A registration ceremony.
	_, ceremony, err = f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
	if err != nil {
		t.Fatal(err)
	}
	opts, _ = f.beginLogin(t, nil)
	_, _, err = f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)
}

// A passkey of another tenant is unknown here even with a valid ceremony of this one.
func TestLoginOtherTenantCredential(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t2 := f.backend.tenant("t2")
	a := newSoftAuthenticator(t, true)
	u := store.User{ID: "u-x", TenantID: "t2", Email: "x@example.com"}
	opts, ceremony, err := f.svc.BeginRegistration(ctx, t2, testSite, u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.FinishRegistration(ctx, t2, testSite, u, ceremony, "", a.create(t, opts, testOrigin, nil)); err != nil {
		t.Fatal(err)
	}
	opts, ceremony = f.beginLogin(t, nil)
	_, _, err = f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrUnknownCredential)
}

// The ceremony state carries its own expiry, for a challenge store that keeps entries
// longer than asked.
type foreverChallenges struct{ m map[string][]byte }

func (c *foreverChallenges) Put(_ context.Context, id string, data []byte, _ time.Duration) error {
	c.m[id] = data
	return nil
}

func (c *foreverChallenges) Take(_ context.Context, id string) ([]byte, error) {
	d, ok := c.m[id]
	if !ok {
		return nil, ErrChallengeNotFound
	}
	delete(c.m, id)
	return d, nil
}

func TestCeremonyStateExpiry(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.svc.challenges = &foreverChallenges{m: map[string][]byte{}}
	a := newSoftAuthenticator(t, true)
	f.register(t, alice, a)
	opts, ceremony := f.beginLogin(t, nil)
	f.clock.Advance(CeremonyTTL)
	_, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, ceremony, a.get(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)
	if bytes.Contains([]byte(err.Error()), []byte("unknown")) {
		t.Fatalf("expected the state's own expiry check, got %v", err)
	}
}
