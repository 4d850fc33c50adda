package token

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// pyVerify checks tokens with an independent implementation: PyJWT with cryptography
// (Debian's python3-jwt, under /usr/bin/python3), against the JWKS as served. It
// prints one line per token: "ok <sub> <sid> <exp-iat>" or "refused <reason>".
const pyVerify = `
import json, sys, jwt
jwks = json.load(open(sys.argv[1]))
keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
origin = sys.argv[2]
for line in sys.stdin:
    raw, typ = line.split()
    try:
        kid = jwt.get_unverified_header(raw)["kid"]
        header = jwt.get_unverified_header(raw)
        assert header["typ"] == typ, "type"
        c = jwt.decode(raw, keys[kid].key, algorithms=["ES256"], audience=origin, issuer=origin,
                       options={"require": ["exp", "iat", "nbf", "sub", "aud", "iss"]})
        print("ok", c["sub"], c["sid"], c["tid"], ",".join(c["roles"]), ",".join(c["amr"]), c["exp"] - c["iat"])
    except Exception as e:
        print("refused", type(e).__name__)
`

// TestTokensVerifyWithPyJWT: access tokens and assertions verify with PyJWT against the
// served JWKS — before and after a key rotation, old key and new — and a tampered one
// does not.
func TestTokensVerifyWithPyJWT(t *testing.T) {
	testenv.Short(t, "PyJWT interop")
	if err := exec.Command("/usr/bin/python3", "-c", "import jwt, cryptography").Run(); err != nil {
		testenv.Need(t, "Debian's python3-jwt and python3-cryptography under /usr/bin/python3 (scripts/deps.sh installs them)")
	}
	f := newStoreFixture(t)
	// PyJWT checks times against the real clock: run the fake one so that the last
	// step lands on real time.
	f.clk.Set(time.Now().Add(-PublishLead).Truncate(time.Second))
	ctx := context.Background()
	if err := f.keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	e := f.signedIn(t, "ann@acme.test")
	a := &Assertions{Keys: f.keys, Clock: f.clk}
	mint := func() (string, string) {
		g, err := f.svc.Issue(ctx, f.ws, Client{Site: site}, e)
		if err != nil {
			t.Fatal(err)
		}
		as, err := a.For(&e.Facts, Site{HTTPS: site.HTTPS, Host: site.Host})
		if err != nil {
			t.Fatal(err)
		}
		return g.AccessToken, as
	}
	if _, err := f.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(PublishLead - time.Minute)
	oldAccess, oldAssertion := mint() // the old key's last tokens, just before the switch
	f.clk.Advance(time.Minute)        // the new key signs; the old one is still published
	a = &Assertions{Keys: f.keys, Clock: f.clk}
	newAccess, newAssertion := mint()
	if headerKID(t, newAccess) == headerKID(t, oldAccess) {
		t.Fatal("the rotation did not change the signing key")
	}
	lines := []string{oldAccess + " " + TypeAccess, oldAssertion + " " + TypeAssertion, newAccess + " " + TypeAccess,
		newAssertion + " " + TypeAssertion, tamper(newAccess) + " " + TypeAccess}
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, f.keys.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", pyVerify, jwks, site.Origin())
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := func(ttl string) string {
		return strings.Join([]string{"ok", e.User.ID, e.Session.ID, f.ws.TenantID(), "member", "pwd,otp", ttl}, " ")
	}
	wantAll := []string{want("900"), want("300"), want("900"), want("300"), "refused InvalidSignatureError"}
	if len(got) != len(wantAll) {
		t.Fatalf("python said:\n%s", out)
	}
	for i := range wantAll {
		if got[i] != wantAll[i] {
			t.Errorf("token %d: python says %q, want %q", i, got[i], wantAll[i])
		}
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(f.keys.JWKS(), &set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS during the rotation: %d keys", len(set.Keys))
	}
}
