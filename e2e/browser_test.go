package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// stepTimeout bounds every single browser step (a navigation, a wait, a ceremony), so
// a broken page fails the test instead of hanging it.
const stepTimeout = 20 * time.Second

// startGatewayLocalhost is startGateway with the site at http://localhost:PORT instead
// of 127.0.0.1 (app: more lines for the gatehouse global option). Browsers treat http://localhost as a secure context, which WebAuthn
// needs, and the relying party id the gateway derives from the request host is then
// "localhost", a valid RP ID (an IP address is not).
func startGatewayLocalhost(t *testing.T, storeDSN, upstream, site string, app ...string) *gateway {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	base := fmt.Sprintf("http://localhost:%d", port)
	if !strings.Contains(site, "identity_headers") {
		site = "\n\t\tidentity_headers all" + site // as startGatewayWith
	}
	cfg := fmt.Sprintf(`{
	admin off
	auto_https off
	persist_config off
	storage file_system %s
	gatehouse {
		store %s
		bcrypt_cost 4
		base_url %s
		%s
	}
}

%s {
	gatehouse {%s
	}
	reverse_proxy %s
}
`, filepath.Join(dir, "caddy"), storeDSN, base, strings.Join(app, "\n\t\t"), base, site, strings.TrimPrefix(upstream, "http://"))
	g := &gateway{t: t, url: base, config: filepath.Join(dir, "Caddyfile"), dir: dir}
	if err := os.WriteFile(g.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g.start()
	t.Cleanup(g.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", g.logs())
		}
	})
	return g
}

// chromiumPath finds Chromium: Debian's /usr/bin/chromium, or chromium on PATH. Without
// it the test fails in CI (env CI set) and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/usr/bin/chromium"); err == nil && !fi.IsDir() {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Need(t, "chromium is not installed (apt-get install chromium, or run make test, which installs it)")
	return ""
}

// lockedBuffer is a bytes.Buffer safe for the browser's output goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// chrome is one headless Chromium with one tab. Its methods fail the test on error and
// bound every step by stepTimeout.
type chrome struct {
	t   *testing.T
	ctx context.Context // the tab; lives until the test ends

	mu        sync.Mutex
	console   []string // console errors and warnings, uncaught exceptions
	responses []string // "status path" of every portal API response, in order
	output    lockedBuffer
}

// newChrome starts headless Chromium with a fresh profile. On failure the test log gets
// the page's console errors, the portal API responses, where the tab was and what it
// showed, and Chromium's own output.
func newChrome(t *testing.T) *chrome {
	t.Helper()
	path := chromiumPath(t)
	c := &chrome{t: t}
	profile := t.TempDir() // removed after the browser has exited (cleanups run LIFO)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(profile),
		chromedp.CombinedOutput(&c.output),
	)
	t.Cleanup(allocCancel)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	c.ctx = ctx

	// Start the browser and the tab now, so that a browser that cannot start fails here
	// with its output. The first action must run on the tab's own context (the browser
	// process lives as long as the context of that first call), so it is bounded by a
	// timer that cancels the tab instead of by a timeout context.
	timer := time.AfterFunc(stepTimeout, cancel)
	err := chromedp.Do(ctx, chromedp.Navigate("about:blank"))
	if !timer.Stop() {
		t.Fatalf("chromium (%s) did not start within %v\n%s", path, stepTimeout, c.output.String())
	}
	if err != nil {
		t.Fatalf("starting chromium (%s): %v\n%s", path, err, c.output.String())
	}

	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleError, chromedp.ConsoleWarning, chromedp.ConsoleException:
				text := m.String()
				if m.URL != "" {
					text += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
				}
				c.mu.Lock()
				c.console = append(c.console, text)
				c.mu.Unlock()
			}
		}
	}()
	if err := chromedp.Listen(ctx, func(ev any) {
		if ev, ok := ev.(*network.EventResponseReceived); ok && ev.Response != nil && strings.Contains(ev.Response.URL, "/api/v1/") {
			path := ev.Response.URL
			if i := strings.Index(path, "/auth/"); i >= 0 {
				path = path[i:]
			}
			path, _, _ = strings.Cut(path, "?") // the status sequence matters, not the mode

			c.mu.Lock()
			c.responses = append(c.responses, fmt.Sprintf("%d %s", ev.Response.Status, path))
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		c.mu.Lock()
		console, responses := strings.Join(c.console, "\n  "), strings.Join(c.responses, "\n  ")
		c.mu.Unlock()
		t.Logf("chromium console errors:\n  %s", console)
		t.Logf("portal API responses seen by chromium:\n  %s", responses)
		dctx, dcancel := context.WithTimeout(ctx, 3*time.Second)
		defer dcancel()
		if loc, err := chromedp.Run(dctx, chromedp.Location()); err == nil {
			text, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Logf("chromium tab at %s showing:\n%s", loc, text)
		}
		var out []string // without the noise of a container without D-Bus
		for _, line := range strings.Split(c.output.String(), "\n") {
			if line != "" && !strings.Contains(line, "dbus") {
				out = append(out, line)
			}
		}
		t.Logf("chromium output:\n%s", strings.Join(out, "\n"))
	})
	return c
}

// step returns a context for one browser step.
func (c *chrome) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, stepTimeout)
}

// do runs actions in the tab, failing the test with what on error.
func (c *chrome) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page (Runtime.evaluate, which the
// page's CSP does not restrict) and decodes its value.
func eval[T any](c *chrome, expr string) T {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it is true. It survives navigations (an
// evaluation that fails because the page is being replaced is retried), so it can wait
// for the page a click or a script leads to.
func (c *chrome) waitFor(what, cond string) {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	var lastErr error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		lastErr = err
		select {
		case <-ctx.Done():
			c.t.Fatalf("timed out waiting for %s (%s); last error: %v; tab at %s", what, cond, lastErr, c.location())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// waitPath waits until the tab shows a page at the given path.
func (c *chrome) waitPath(path string) {
	c.t.Helper()
	c.waitFor("page "+path, fmt.Sprintf("location.pathname === %q && document.readyState !== 'loading'", path))
}

// location is the tab's URL, or a note why it is unknown.
func (c *chrome) location() string {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	return loc
}

// apiResponses returns the portal API responses seen since mark (an earlier len).
func (c *chrome) apiResponses(mark int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.responses[mark:]...)
}

// apiMark is the number of portal API responses seen so far.
func (c *chrome) apiMark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.responses)
}

// cookies are the cookies the browser holds for u (HttpOnly ones included), for
// replaying them from Go.
func (c *chrome) cookies(u string) []*http.Cookie {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
	if err != nil {
		c.t.Fatalf("reading cookies: %v", err)
	}
	var out []*http.Cookie
	for _, ck := range res.Cookies {
		out = append(out, &http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	return out
}

// addVirtualAuthenticator enables the DevTools WebAuthn domain and adds a platform
// authenticator (CTAP 2.1, internal transport, resident keys) whose user verification
// succeeds and whose presence test passes by itself; it returns its id.
func (c *chrome) addVirtualAuthenticator() webauthn.AuthenticatorID {
	c.t.Helper()
	ctx, cancel := c.step()
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		c.t.Fatalf("WebAuthn.enable: %v", err)
	}
	added, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Ctap2version:                webauthn.Ctap2versionCtap21,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		c.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return added.AuthenticatorID
}
