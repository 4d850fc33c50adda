package e2e

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// keyStatus is one line of `gatehouse keys status --json`.
type keyStatus struct {
	Version int              `json:"version"`
	KeyID   string           `json:"key_id"`
	State   string           `json:"state"`
	Sealed  map[string]int64 `json:"sealed"`
}

func keysStatus(t *testing.T, g *gateway) []keyStatus {
	t.Helper()
	out, err := g.cli("", "keys", "status", "--json")
	if err != nil {
		t.Fatalf("keys status: %v\n%s", err, out)
	}
	return decodeJSON[[]keyStatus](t, "keys status", out)
}

func sealedTotal(k keyStatus) int64 {
	var n int64
	for _, c := range k.Sealed {
		n += c
	}
	return n
}

// enrolTOTPIn enrols an authenticator app for c's signed-in user through the pages of
// base and returns its key.
func enrolTOTPIn(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	_, body, _ := get(t, c, base+"/auth/settings/security")
	st, body, _ := postForm(t, c, base+"/auth/settings/totp/enroll", csrfFrom(t, body), url.Values{})
	m := secretRE.FindStringSubmatch(body)
	if st != http.StatusOK || m == nil {
		t.Fatalf("enrol page on %s: %d", base, st)
	}
	st, _, _ = postForm(t, c, base+"/auth/settings/totp/confirm", csrfFrom(t, body), url.Values{"code": {oathtool(t, m[1], "now")}})
	if st != http.StatusOK {
		t.Fatalf("confirming TOTP on %s: %d", base, st)
	}
	return m[1]
}

// totpSignIn signs in with password and a TOTP code (the next step's: the current one
// may have been spent by the enrolment) on base, and fails unless it works.
func totpSignIn(t *testing.T, base, email, pw, key string) {
	t.Helper()
	b := browser(t)
	resp := signInForm(t, b, base, email, pw, "/")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/auth/login/2fa") {
		t.Fatalf("password step on %s: %d %q", base, resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body, _ := get(t, b, base+resp.Header.Get("Location"))
	st, body, _ := postForm(t, b, base+"/auth/login/2fa", csrfFrom(t, body), url.Values{"code": {oathtool(t, key, "now + 30 seconds")}, "rd": {"/"}})
	if st != http.StatusSeeOther {
		t.Fatalf("TOTP step on %s: %d\n%s", base, st, body)
	}
}

// TestMasterKeyRotationWithTwoInstancesRunning: two gateways on one PostgreSQL share a
// key file. `gatehouse keys rotate` adds v2 and re-seals everything while both serve
// bearer traffic without a single refusal; afterwards each instance — started with v1
// only — opens what was re-sealed (a TOTP sign-in on the other instance), a refresh
// token issued before the rotation still rotates, new secrets are sealed under v2,
// the audit chain verifies; `keys prune` then removes v1, and both instances,
// restarted with v2 alone, still sign in with TOTP, issue tokens and verify the chain.
func TestMasterKeyRotationWithTwoInstancesRunning(t *testing.T) {
	dsn := postgresDSN(t)
	up := newRecorder(t)
	keyFile := filepath.Join(t.TempDir(), "keys", "master.key")
	app := "master_key_file " + keyFile + "\n\t\trate_limit login 0 0\n\t\trate_limit api 0"
	g1 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	g2 := startGatewayWith(t, gatewayConfig{dsn: dsn, upstream: up.URL, site: siteConfig, app: app})
	origin := strings.TrimPrefix(g1.url, "http://")

	const tia, bob, cy, dee, pw = "tia@example.com", "bob@example.com", "cy@example.com", "dee@example.com", "rotation passphrase one"
	addUser(t, g1, tia, "member", pw)
	addUser(t, g1, dee, "member", pw)
	addUser(t, g1, bob, "member", pw)
	addUser(t, g1, cy, "member", pw)
	ct := browser(t)
	signInAs(t, ct, g1.url, tia, pw)
	tiaKey := enrolTOTPIn(t, ct, g1.url) // sealed under v1 by instance 1
	cd := browser(t)
	signInAs(t, cd, g2.url, dee, pw)
	deeKey := enrolTOTPIn(t, cd, g2.url) // sealed under v1 by instance 2

	cb := browser(t)
	signInAs(t, cb, g1.url, bob, pw)
	st, body, _ := postToken(t, cb, g1.url+"/auth/api/v1/token", map[string]string{"client": "native"})
	r1 := tokenOK(t, "native token", st, body)

	before := keysStatus(t, g1)
	if len(before) != 1 || before[0].Version != 1 || before[0].State != "current" ||
		before[0].Sealed["totp_secret"] != 2 || before[0].Sealed["signing_key"] < 1 || before[0].Sealed["data_key"] != 2 {
		t.Fatalf("keys status before the rotation: %+v", before)
	}
	v1 := before[0].KeyID

	// Bearer traffic on both instances for the whole rotation.
	var sent, refused atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range []*gateway{g1, g2} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", g.url+"/app/during-rotation", nil)
				req.Host = origin
				req.Header.Set("Authorization", "Bearer "+r1.AccessToken)
				resp, err := plainClient().Do(req)
				sent.Add(1)
				if err != nil || resp.StatusCode != http.StatusOK {
					refused.Add(1)
				}
				if err == nil {
					resp.Body.Close()
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	out := cliOK(t, g1, "re-sealed under v2", "keys", "rotate")
	close(stop)
	wg.Wait()
	t.Logf("keys rotate:\n%s", out)
	if sent.Load() < 10 || refused.Load() != 0 {
		t.Fatalf("during the rotation %d of %d requests were refused", refused.Load(), sent.Load())
	}

	after := keysStatus(t, g1)
	if len(after) != 2 || after[0].Version != 2 || after[0].State != "current" || after[1].KeyID != v1 || after[1].State != "unused" ||
		sealedTotal(after[1]) != 0 || after[0].Sealed["totp_secret"] != 2 || after[0].Sealed["data_key"] != 2 {
		t.Fatalf("keys status after the rotation: %+v", after)
	}

	// Instance 2 started with v1 only: it opens tia's TOTP key, re-sealed under v2.
	totpSignIn(t, g2.url, tia, pw, tiaKey)
	// A refresh token from before the rotation rotates (the successor key is a data
	// key: unchanged), and the new access token passes on the other instance.
	refresh := func(g *gateway, tok string) tokenReply {
		req, _ := http.NewRequest("POST", g.url+"/auth/api/v1/token", strings.NewReader(`{"client":"native","refresh_token":"`+tok+`"}`))
		req.Host = origin
		req.Header.Set("Content-Type", "application/json")
		st, body, _ := do(t, plainClient(), req)
		return tokenOK(t, "refresh after the rotation", st, body)
	}
	r2 := refresh(g1, r1.RefreshToken)
	mustPassAs(t, withBearerHost(t, up, g2.url+"/app/after-rotation", origin, r2.AccessToken), bob, "a token refreshed after the rotation")
	// A secret enrolled now on instance 2 is sealed under v2.
	cc := browser(t)
	signInAs(t, cc, g2.url, cy, pw)
	cyKey := enrolTOTPIn(t, cc, g2.url)
	if s := keysStatus(t, g1); s[0].Sealed["totp_secret"] != 3 || sealedTotal(s[1]) != 0 {
		t.Fatalf("a TOTP key enrolled after the rotation is not under v2: %+v", s)
	}
	cliOK(t, g1, "chain intact", "audit", "verify")

	// v1 seals nothing: prune removes it; the key file holds v2 alone.
	cliOK(t, g1, "removed v1", "keys", "prune")
	keys, err := secret.ReadMasterKeyFile(keyFile)
	if err != nil || len(keys) != 1 || keys[0].Version != 2 || keys[0].KeyID() != after[0].KeyID {
		t.Fatalf("key file after prune: %v %v", keys, err)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode after the rewrite: %v %v", fi.Mode().Perm(), err)
	}

	// Both instances restarted with v2 alone.
	for _, g := range []*gateway{g1, g2} {
		g.stop()
		g.start()
	}
	totpSignIn(t, g1.url, dee, pw, deeKey) // sealed under v1 by instance 2, re-sealed: opens with v2 alone
	totpSignIn(t, g2.url, cy, pw, cyKey)
	r3 := refresh(g2, r2.RefreshToken)
	mustPassAs(t, withBearerHost(t, up, g1.url+"/app/after-restart", origin, r3.AccessToken), bob, "a token refreshed after the restart")
	fresh, _ := freshToken(t, g1.url, "/auth", bob, pw)
	mustPassAs(t, withBearerHost(t, up, g2.url+"/app/fresh", origin, fresh), bob, "a token signed after the restart")
	cliOK(t, g2, "chain intact", "audit", "verify")
	if strings.Contains(g1.logs()+g2.logs(), "cannot open") {
		t.Fatalf("an instance could not open a sealed value:\n%s\n%s", g1.logs(), g2.logs())
	}
}

// TestMasterKeyRotationFromAConfiguredValue: with master_key given as a value (an
// environment variable) `keys rotate` cannot write it and says what to do; the
// operator puts a new version first in the value, restarts, and `keys rotate --resume`
// re-seals everything under it; a TOTP sign-in then works with the new version alone.
func TestMasterKeyRotationFromAConfiguredValue(t *testing.T) {
	up := newRecorder(t)
	const oldKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	g := startGatewayWith(t, gatewayConfig{dsn: "sqlite://" + filepath.Join(t.TempDir(), "gh.db"), upstream: up.URL, site: siteConfig,
		app: "master_key " + oldKey + "\n\t\trate_limit login 0 0"})
	const email, pw = "val@example.com", "value key passphrase"
	addUser(t, g, email, "member", pw)
	c := browser(t)
	signInAs(t, c, g.url, email, pw)
	key := enrolTOTPIn(t, c, g.url)

	out, err := g.cli("", "keys", "rotate")
	if err == nil || !strings.Contains(out, "--resume") || !strings.Contains(out, "master_key") {
		t.Fatalf("keys rotate with a configured value: %v\n%s", err, out)
	}
	nk := secret.NewMasterKey([]secret.MasterKey{{Version: 1}})
	cfg, _ := os.ReadFile(g.config)
	value := "v2:" + base64.StdEncoding.EncodeToString(nk.Key) + ",v1:" + oldKey
	cfg = []byte(strings.Replace(string(cfg), "master_key "+oldKey, "master_key "+value, 1))
	if err := os.WriteFile(g.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	g.stop()
	g.start()
	cliOK(t, g, "re-sealed under v2 ("+nk.KeyID()+"): 2 data keys", "keys", "rotate", "--resume")
	s := keysStatus(t, g)
	if len(s) != 2 || s[0].KeyID != nk.KeyID() || s[0].Sealed["totp_secret"] != 1 || s[1].State != "unused" {
		t.Fatalf("status after the rotation: %+v", s)
	}
	cliFails(t, g, "remove unused versions from it yourself", "keys", "prune")
	// The new version alone.
	cfg = []byte(strings.Replace(string(cfg), value, "v2:"+base64.StdEncoding.EncodeToString(nk.Key), 1))
	if err := os.WriteFile(g.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	g.stop()
	g.start()
	totpSignIn(t, g.url, email, pw, key)
	cliOK(t, g, "chain intact", "audit", "verify")

	// A master key that is not the store's: nothing that writes starts with it — the
	// gateway refuses to run, and so does a writing command — naming the cause.
	g.stop()
	stranger := secret.NewMasterKey(nil)
	cfg = []byte(strings.Replace(string(cfg), "v2:"+base64.StdEncoding.EncodeToString(nk.Key), base64.StdEncoding.EncodeToString(stranger.Key), 1))
	if err := os.WriteFile(g.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	const cause = "not the master key the store was sealed with"
	if out, err := g.cli(pw+"\n", "user", "add", "--email", "late@example.com", "--role", "member", "--password-stdin"); err == nil || !strings.Contains(out, cause) {
		t.Fatalf("user add with a foreign master key: %v\n%s", err, out)
	}
	run := exec.Command(binary, "run", "--config", g.config, "--adapter", "caddyfile")
	run.Env = append(os.Environ(), "XDG_DATA_HOME="+g.dir, "XDG_CONFIG_HOME="+g.dir, "HOME="+g.dir)
	done := make(chan []byte, 1)
	go func() { out, _ := run.CombinedOutput(); done <- out }()
	select {
	case out := <-done:
		if !strings.Contains(string(out), cause) {
			t.Fatalf("the gateway with a foreign master key stopped without naming the cause:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		_ = run.Process.Kill()
		t.Fatal("the gateway started with a master key that is not the store's")
	}
}
