package passkey

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestRegistration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := newSoftAuthenticator(t, true)
	old := f.register(t, alice, first)

	a := newSoftAuthenticator(t, true)
	a.count = 7
	a.flags = protocol.FlagBackupEligible | protocol.FlagBackupState
	opts, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		RP   struct{ ID, Name string }
		User struct {
			ID          string `json:"id"`
			Name        string `json:"name"`
			DisplayName string `json:"displayName"`
		}
		Attestation            string `json:"attestation"`
		AuthenticatorSelection struct {
			ResidentKey        string `json:"residentKey"`
			RequireResidentKey bool   `json:"requireResidentKey"`
			UserVerification   string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		ExcludeCredentials []struct {
			ID string `json:"id"`
		} `json:"excludeCredentials"`
		Timeout int `json:"timeout"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	switch {
	case o.RP.ID != "auth.example.com" || o.RP.Name != "Example":
		t.Errorf("rp = %+v", o.RP)
	case o.User.ID != b64.EncodeToString([]byte(alice.ID)) || o.User.Name != alice.Email || o.User.DisplayName != "Alice":
		t.Errorf("user = %+v", o.User)
	case o.AuthenticatorSelection.ResidentKey != "required" || !o.AuthenticatorSelection.RequireResidentKey ||
		o.AuthenticatorSelection.UserVerification != "required":
		t.Errorf("authenticatorSelection = %+v", o.AuthenticatorSelection)
	case len(o.ExcludeCredentials) != 1 || o.ExcludeCredentials[0].ID != b64.EncodeToString(old.CredentialID):
		t.Errorf("excludeCredentials = %+v", o.ExcludeCredentials)
	case o.Attestation != "none" || o.Timeout != int(CeremonyTTL/time.Millisecond):
		t.Errorf("attestation %q timeout %d", o.Attestation, o.Timeout)
	}

	f.clock.Advance(time.Minute)
	p, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "  Work\x00 laptop\u200b ", a.create(t, opts, testOrigin, nil))
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case p.ID == "" || p.UserID != alice.ID || !bytes.Equal(p.CredentialID, a.credID) || len(p.PublicKey) == 0:
		t.Errorf("passkey = %+v", p)
	case p.SignCount != 7 || !bytes.Equal(p.AAGUID, a.aaguid) || p.AttestationType != "none":
		t.Errorf("count %d aaguid %x attestation %q", p.SignCount, p.AAGUID, p.AttestationType)
	case !p.BackupEligible || !p.BackupState:
		t.Errorf("backup flags %v %v", p.BackupEligible, p.BackupState)
	case !slices.Equal(p.Transports, []string{"internal", "hybrid"}):
		t.Errorf("transports %q", p.Transports)
	case p.Name != "Work laptop" || !p.CreatedAt.Equal(f.clock.Now()):
		t.Errorf("name %q created %v", p.Name, p.CreatedAt)
	}
	stored, err := f.tenant.Passkeys().ListPasskeys(ctx, alice.ID)
	if err != nil || len(stored) != 2 || stored[1].ID != p.ID {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if old.Name != DefaultName {
		t.Errorf("default name %q", old.Name)
	}
}

func TestRegistrationRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*params)
		want error
	}{
		{"wrong origin", func(p *params) { p.origin = "https://evil.example.com" }, ErrVerification},
		{"wrong RP ID hash", func(p *params) { p.rpID = "evil.com" }, ErrVerification},
		{"wrong challenge", func(p *params) { p.challenge = b64.EncodeToString(make([]byte, 32)) }, ErrVerification},
		{"wrong type", func(p *params) { p.typ = "webauthn.get" }, ErrVerification},
		{"UV missing", func(p *params) { p.flags &^= protocol.FlagUserVerified }, ErrVerification},
		{"UP missing", func(p *params) { p.flags &^= protocol.FlagUserPresent }, ErrVerification},
		{"backup state without eligibility", func(p *params) { p.flags |= protocol.FlagBackupState }, ErrVerification},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			opts, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
			if err != nil {
				t.Fatal(err)
			}
			a := newSoftAuthenticator(t, true)
			_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "x", a.create(t, opts, testOrigin, tc.mod))
			wantErr(t, err, tc.want)
			if list, _ := f.tenant.Passkeys().ListPasskeys(ctx, alice.ID); len(list) != 0 {
				t.Fatalf("refused credential stored: %+v", list)
			}
		})
	}
}

func TestRegistrationCeremonyBinding(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		finish func(f *fixture, ceremony string, cred []byte) error
	}{
		{"another user", func(f *fixture, c string, cred []byte) error {
			_, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, bob, c, "", cred)
			return err
		}},
		{"another tenant", func(f *fixture, c string, cred []byte) error {
			u := alice
			u.TenantID = "t2"
			_, err := f.svc.FinishRegistration(ctx, f.backend.tenant("t2"), testSite, u, c, "", cred)
			return err
		}},
		{"another site", func(f *fixture, c string, cred []byte) error {
			_, err := f.svc.FinishRegistration(ctx, f.tenant, Site{Host: "other.example.com", HTTPS: true}, alice, c, "", cred)
			return err
		}},
		{"login purpose", func(f *fixture, c string, cred []byte) error {
			_, _, err := f.svc.FinishLogin(ctx, f.tenant, testSite, c, cred)
			return err
		}},
		{"expired", func(f *fixture, c string, cred []byte) error {
			f.clock.Advance(CeremonyTTL)
			_, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, c, "", cred)
			return err
		}},
		{"unknown", func(f *fixture, c string, cred []byte) error {
			_, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, c+"x", "", cred)
			return err
		}},
		{"empty", func(f *fixture, c string, cred []byte) error {
			_, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, "", "", cred)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
			if err != nil {
				t.Fatal(err)
			}
			cred := newSoftAuthenticator(t, true).create(t, opts, testOrigin, nil)
			wantErr(t, tc.finish(f, ceremony, cred), ErrCeremony)
		})
	}
}

func TestRegistrationReplay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	opts, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
	if err != nil {
		t.Fatal(err)
	}
	a := newSoftAuthenticator(t, true)
	cred := a.create(t, opts, testOrigin, nil)
	if _, err := f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", cred); err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", cred)
	wantErr(t, err, ErrCeremony)

	// A failed attempt uses the ceremony up too.
	opts, ceremony, _ = f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
	b := newSoftAuthenticator(t, true)
	_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", b.create(t, opts, "https://evil.com", nil))
	wantErr(t, err, ErrVerification)
	_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", b.create(t, opts, testOrigin, nil))
	wantErr(t, err, ErrCeremony)

	// The same credential registered again (the browser ignored excludeCredentials).
	opts, ceremony, _ = f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
	_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", a.create(t, opts, testOrigin, nil))
	wantErr(t, err, store.ErrConflict)
}

func TestRegistrationMalformed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, body := range []string{``, `{}`, `not json`, `{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}`} {
		_, ceremony, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, alice)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.svc.FinishRegistration(ctx, f.tenant, testSite, alice, ceremony, "", []byte(body))
		wantErr(t, err, ErrVerification)
	}
	if _, _, err := f.svc.BeginRegistration(ctx, f.tenant, testSite, store.User{ID: "x", TenantID: "t2"}); err == nil ||
		errors.Is(err, ErrCeremony) {
		t.Fatalf("user of another tenant: %v", err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"":                       DefaultName,
		"   ":                    DefaultName,
		"\x00\u202e":             DefaultName,
		" YubiKey 5 ":            "YubiKey 5",
		"a\u202egnp.exe":         "agnp.exe",
		strings.Repeat("é", 100): strings.Repeat("é", 64),
		"line\nbreak":            "linebreak",
	} {
		if got := CleanName(in); got != want {
			t.Errorf("CleanName(%q) = %q, want %q", in, got, want)
		}
	}
}
