package e2e

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Portal API paths the page's script calls.
const (
	apiLoginBegin     = "/auth/api/v1/webauthn/login/begin"
	apiLoginFinish    = "/auth/api/v1/webauthn/login/finish"
	apiRegisterBegin  = "/auth/api/v1/webauthn/register/begin"
	apiRegisterFinish = "/auth/api/v1/webauthn/register/finish"
)

// What webauthn.js shows in #passkey-error.
const (
	msgCancelled         = "No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site."
	msgRemoved           = "This passkey is not registered here any more (it may have been removed). Sign in with your password or another passkey."
	msgSignInFailed      = "Signing in with the passkey failed."
	msgAlreadyRegistered = "This authenticator already holds a passkey for your account."
)

const (
	passkeyName     = "Virtual laptop"
	passkeyEmail    = "pia@example.com"
	passkeyPassword = "lantern orchard quietly seventeen"
	protectedPath   = "/dashboard"
	signInPath      = "/auth/login"
	shortCeremonyMS = 1500 // the options timeout the presence test forces
)

// TestPasskeyInChromium registers a passkey through the real settings page and its
// script in headless Chromium with a DevTools virtual authenticator (CTAP2, internal,
// resident keys, user verification), signs in with it passwordless and as the second
// factor after a password, and checks that the same authenticator is refused when user
// verification fails, when the user is not present, when it reports UV or UP unset,
// and when the signature is bad.
func TestPasskeyInChromium(t *testing.T) {
	c := newChrome(t) // first: skips before anything starts when there is no Chromium
	up := newRecorder(t)
	g := startGatewayLocalhost(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"), up.URL, siteConfig)
	if out, err := g.cli(passkeyPassword+"\n", "user", "add", "--email", passkeyEmail, "--name", "Pia Passkey",
		"--role", "member", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}

	// The virtual authenticator: a platform authenticator with resident keys whose user
	// verification succeeds and whose presence test passes by itself.
	auth := c.addVirtualAuthenticator()

	// Password sign-in; the upstream tells us the user id (the passkey's user handle).
	c.passwordSignIn(g, passkeyEmail, passkeyPassword, protectedPath)
	c.waitPath(protectedPath)
	h := up.last(t)
	if h.Get("X-Gatehouse-User-Email") != passkeyEmail || h.Get("X-Gatehouse-Auth-Methods") != "pwd" {
		t.Fatalf("after password sign-in: email %q methods %q", h.Get("X-Gatehouse-User-Email"), h.Get("X-Gatehouse-Auth-Methods"))
	}
	userID := h.Get("X-Gatehouse-User-Id")

	// Register through the settings page: the script runs the ceremony and reloads the
	// page, which then lists the passkey.
	mark := c.apiMark()
	c.do("opening the security settings",
		chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.WaitVisible(chromedp.ID("passkey-register")),
		chromedp.SendKeys(chromedp.ID("passkey-name"), passkeyName),
		chromedp.Click(chromedp.ID("passkey-register")),
	)
	c.waitFor("the new passkey in the list", fmt.Sprintf(
		`location.pathname === "/auth/settings/security" && [...document.querySelectorAll("ul.list li strong")].some(e => e.textContent === %q)`, passkeyName))
	if got, want := c.apiResponses(mark), []string{"200 " + apiRegisterBegin, "200 " + apiRegisterFinish}; !slices.Equal(got, want) {
		t.Errorf("registration API responses %q, want %q", got, want)
	}
	if e := eval[string](c, `document.getElementById("passkey-error").textContent`); e != "" {
		t.Errorf("settings page shows an error after registering: %q", e)
	}
	ctx, cancel := c.step()
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	cancel()
	if err != nil {
		t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	if len(creds.Credentials) != 1 {
		t.Fatalf("authenticator holds %d credentials, want 1", len(creds.Credentials))
	}
	cred := creds.Credentials[0]
	if !cred.IsResidentCredential || cred.RpID != "localhost" || string(cred.UserHandle) != userID || userID == "" {
		t.Fatalf("credential: resident %v, RP ID %q, user handle %q (user %q)", cred.IsResidentCredential, cred.RpID, cred.UserHandle, userID)
	}
	if cred.UserName != passkeyEmail {
		t.Errorf("credential user name %q, want %q", cred.UserName, passkeyEmail)
	}

	// The same authenticator cannot register a second passkey for the account: the
	// options exclude the one it holds, so it declines (InvalidStateError) and nothing
	// reaches the finish endpoint. Once with the browser's JSON helpers, once through the
	// script's fallback decoding of the excluded credential ids.
	for _, fallback := range []bool{false, true} {
		c.do("opening the security settings again",
			chromedp.Navigate(g.url+"/auth/settings/security"),
			chromedp.WaitVisible(chromedp.ID("passkey-register")))
		c.waitFor("the page's script", `document.readyState === "complete"`)
		if fallback {
			c.withoutJSONHelpers()
		}
		mark = c.apiMark()
		c.do("registering a second passkey",
			chromedp.SendKeys(chromedp.ID("passkey-name"), "Duplicate"),
			chromedp.Click(chromedp.ID("passkey-register")))
		c.waitError("passkey-register", msgAlreadyRegistered)
		if got, want := c.apiResponses(mark), []string{"200 " + apiRegisterBegin}; !slices.Equal(got, want) {
			t.Errorf("duplicate registration (fallback %v): API responses %q, want %q", fallback, got, want)
		}
	}
	ctx, cancel = c.step()
	creds, err = chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth})
	cancel()
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("after the duplicate registrations: %v, %d credentials", err, len(creds.Credentials))
	}

	// Passwordless: sign out, then the passkey alone.
	c.signOut(g)
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, passkeyEmail, "hwk")

	// Second factor: the password now leads to the second step, where the passkey
	// finishes the sign-in.
	c.signOut(g)
	before := up.count()
	c.passwordSignIn(g, passkeyEmail, passkeyPassword, protectedPath)
	c.waitPath("/auth/login/2fa")
	if up.count() != before {
		t.Fatal("the password alone reached the upstream")
	}
	c.clickPasskey()
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, passkeyEmail, "pwd,hwk")
	c.signOut(g)

	// A half-done sign-in left behind is not what a passkey on the sign-in page
	// completes: that is a passwordless sign-in of its own.
	c.passwordSignIn(g, passkeyEmail, passkeyPassword, protectedPath)
	c.waitPath("/auth/login/2fa")
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, passkeyEmail, "hwk")
	c.signOut(g)

	// --- Refusals through the same virtual authenticator. ---
	setUV := func(ok bool) {
		ctx, cancel := c.step()
		defer cancel()
		if _, err := chromedp.Call(ctx, webauthn.SetUserVerified, webauthn.SetUserVerifiedParams{AuthenticatorID: auth, IsUserVerified: ok}); err != nil {
			t.Fatalf("WebAuthn.setUserVerified(%v): %v", ok, err)
		}
	}
	setPresence := func(ok bool) {
		ctx, cancel := c.step()
		defer cancel()
		if _, err := chromedp.Call(ctx, webauthn.SetAutomaticPresenceSimulation, webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: auth, Enabled: ok}); err != nil {
			t.Fatalf("WebAuthn.setAutomaticPresenceSimulation(%v): %v", ok, err)
		}
	}
	override := func(p webauthn.SetResponseOverrideBitsParams) {
		ctx, cancel := c.step()
		defer cancel()
		p.AuthenticatorID = auth
		if _, err := chromedp.Call(ctx, webauthn.SetResponseOverrideBits, p); err != nil {
			t.Fatalf("WebAuthn.setResponseOverrideBits: %v", err)
		}
	}
	yes := true

	// User verification fails on the authenticator: the browser refuses (UV is
	// required), the server never gets an assertion.
	setUV(false)
	c.refusedPasswordless(t, g, up, "user verification failing", nil, msgCancelled, "")
	setUV(true)

	// The user is never present: the ceremony runs until its timeout (forced short;
	// the virtual authenticator makes Chromium honour it) and fails.
	setPresence(false)
	c.refusedPasswordless(t, g, up, "user not present", func() {
		eval[bool](c, fmt.Sprintf(`(() => {
			const get = navigator.credentials.get.bind(navigator.credentials);
			navigator.credentials.get = (o) => { if (o && o.publicKey) o.publicKey.timeout = %d; return get(o); };
			return true;
		})()`, shortCeremonyMS))
	}, msgCancelled, "")
	setPresence(true)

	// The authenticator answers with the UV flag cleared, or the UP flag cleared: the
	// server refuses the assertion.
	override(webauthn.SetResponseOverrideBitsParams{IsBadUV: &yes})
	c.refusedPasswordless(t, g, up, "assertion without UV flag", nil, msgSignInFailed, "401")
	override(webauthn.SetResponseOverrideBitsParams{IsBadUP: &yes})
	c.refusedPasswordless(t, g, up, "assertion without UP flag", nil, msgSignInFailed, "401")

	// The authenticator answers with a zero signature.
	override(webauthn.SetResponseOverrideBitsParams{IsBogusSignature: &yes})
	c.refusedPasswordless(t, g, up, "bogus signature from the authenticator", nil, msgSignInFailed, "401")
	override(webauthn.SetResponseOverrideBitsParams{})

	// A genuine assertion whose signature is altered on its way to the server.
	c.refusedPasswordless(t, g, up, "signature altered in the page", c.corruptSignature, msgSignInFailed, "401")

	// The same refusal as a second factor: the password step stays half done, and the
	// passkey can still finish it from a fresh page.
	before = up.count()
	c.passwordSignIn(g, passkeyEmail, passkeyPassword, protectedPath)
	c.waitPath("/auth/login/2fa")
	mark = c.apiMark()
	c.corruptSignature()
	c.clickPasskey()
	c.waitError("passkey-login", msgSignInFailed)
	c.expectAPI(t, "second factor with altered signature", mark, "401")
	c.expectSignedOut(t, g, up, "second factor with altered signature")
	if up.count() != before {
		t.Fatal("a refused second factor reached the upstream")
	}
	c.do("reloading the second step", chromedp.Reload())
	c.clickPasskey()
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, passkeyEmail, "pwd,hwk")
	c.signOut(g)

	// And passwordless once more, through the script's fallback encoding: the refusals
	// recorded no sign count that would make the authenticator's next assertion look
	// cloned.
	c.do("opening the sign-in page", chromedp.Navigate(g.url+"/auth/login?rd="+protectedPath))
	c.waitFor("the page's script", `document.readyState === "complete"`)
	c.withoutJSONHelpers()
	c.clickPasskey()
	c.waitPath(protectedPath)
	c.expectUpstream(t, up, passkeyEmail, "hwk")

	// A passkey removed from the account but still on the device: signing in with it
	// says that it is not registered any more — not "cancelled", not a bare failure.
	c.do("removing the passkey", chromedp.Navigate(g.url+"/auth/settings/security"),
		chromedp.Click(chromedp.CSS(`form[action="/auth/settings/passkeys/delete"] button`)))
	c.waitFor("the passkey gone", `location.pathname === "/auth/settings/security" && !document.querySelector('form[action="/auth/settings/passkeys/delete"]')`)
	c.signOut(g)
	mark = c.apiMark()
	c.passkeySignIn(g, "/auth/login?rd="+protectedPath)
	c.waitError("passkey-login", msgRemoved)
	c.expectAPI(t, "a removed passkey", mark, "401")
	c.expectSignedOut(t, g, up, "a removed passkey")
}

// passwordSignIn types the e-mail and password into the sign-in form and submits it.
func (c *chrome) passwordSignIn(g *gateway, email, password, rd string) {
	c.t.Helper()
	c.do("signing in with the password",
		chromedp.Navigate(g.url+"/auth/login?rd="+rd),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/auth/login"] button[type=submit]`)),
	)
}

// signOut uses the sign-out page's form and waits for the signed-out sign-in page.
func (c *chrome) signOut(g *gateway) {
	c.t.Helper()
	c.do("signing out",
		chromedp.Navigate(g.url+"/auth/logout"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/auth/logout"] button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`form[action="/auth/logout"] button[type=submit]`)),
	)
	c.waitFor("the signed-out page", `location.pathname === "/auth/login" && location.search.includes("signed_out=1") && document.getElementById("passkey-login")`)
}

// passkeySignIn opens a sign-in page and clicks "Sign in with a passkey".
func (c *chrome) passkeySignIn(g *gateway, page string) {
	c.t.Helper()
	c.do("opening "+page, chromedp.Navigate(g.url+page))
	c.clickPasskey()
}

// clickPasskey clicks the page's passkey sign-in button once its script is wired.
func (c *chrome) clickPasskey() {
	c.t.Helper()
	c.waitFor("the passkey button", `document.readyState === "complete" && document.getElementById("passkey-login")`)
	c.do("clicking the passkey button", chromedp.Click(chromedp.ID("passkey-login")))
}

// waitError waits until #passkey-error shows want and the button (its id) is idle.
func (c *chrome) waitError(button, want string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf("the error %q", want), fmt.Sprintf(
		`(document.getElementById("passkey-error") || {}).textContent === %q && !document.getElementById(%q).hasAttribute("aria-busy")`, want, button))
}

// withoutJSONHelpers removes PublicKeyCredential.parse*OptionsFromJSON and toJSON from
// the loaded page, so that webauthn.js takes its base64url fallback path (browsers
// without these WebAuthn Level 3 helpers).
func (c *chrome) withoutJSONHelpers() {
	c.t.Helper()
	if !eval[bool](c, `(() => {
		delete PublicKeyCredential.parseCreationOptionsFromJSON;
		delete PublicKeyCredential.parseRequestOptionsFromJSON;
		delete PublicKeyCredential.prototype.toJSON;
		return !PublicKeyCredential.parseCreationOptionsFromJSON && !PublicKeyCredential.parseRequestOptionsFromJSON &&
			typeof PublicKeyCredential.prototype.toJSON !== "function";
	})()`) {
		c.t.Fatal("could not remove the WebAuthn JSON helpers from the page")
	}
}

// corruptSignature makes the page's fetch flip one bit of the assertion signature it
// posts to the login finish endpoint (a page-level interception: the evaluation is not
// subject to the page's CSP).
func (c *chrome) corruptSignature() {
	c.t.Helper()
	eval[bool](c, `(() => {
		const fetch0 = window.fetch;
		window.fetch = function (url, init) {
			if (String(url).split("?")[0].endsWith("/webauthn/login/finish") && init && typeof init.body === "string") {
				const body = JSON.parse(init.body);
				const b64 = body.credential.response.signature.replace(/-/g, "+").replace(/_/g, "/");
				const sig = Uint8Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)), ch => ch.charCodeAt(0));
				sig[sig.length - 5] ^= 0x01; // inside s of the DER-encoded ECDSA signature
				body.credential.response.signature = btoa(String.fromCharCode(...sig)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
				init = Object.assign({}, init, { body: JSON.stringify(body) });
			}
			return fetch0.call(this, url, init);
		};
		return true;
	})()`)
}

// refusedPasswordless tries a passwordless sign-in that must fail: prepare (if any)
// runs in the loaded page before the click, the page must show the error text, the
// finish endpoint must answer finishStatus ("" when the browser must not get as far as
// posting an assertion), and no cookie the browser holds may reach the upstream.
func (c *chrome) refusedPasswordless(t *testing.T, g *gateway, up *recorder, what string, prepare func(), wantError, finishStatus string) {
	t.Helper()
	before := up.count()
	start := time.Now()
	c.do(what+": opening the sign-in page", chromedp.Navigate(g.url+"/auth/login?rd="+protectedPath))
	c.waitFor("the passkey button", `document.readyState === "complete" && document.getElementById("passkey-login")`)
	if prepare != nil {
		prepare()
	}
	mark := c.apiMark()
	c.do(what+": clicking the passkey button", chromedp.Click(chromedp.ID("passkey-login")))
	c.waitError("passkey-login", wantError)
	c.expectAPI(t, what, mark, finishStatus)
	if loc := c.location(); !strings.Contains(loc, "/auth/login") {
		t.Errorf("%s: the page moved on to %s", what, loc)
	}
	c.expectSignedOut(t, g, up, what)
	if up.count() != before {
		t.Errorf("%s: the upstream was reached", what)
	}
	t.Logf("%s: refused with %q in %v", what, wantError, time.Since(start).Round(time.Millisecond))
}

// expectAPI checks the API calls since mark: a successful begin, then either no finish
// (finishStatus "") or a finish answered with finishStatus.
func (c *chrome) expectAPI(t *testing.T, what string, mark int, finishStatus string) {
	t.Helper()
	want := []string{"200 " + apiLoginBegin}
	if finishStatus != "" {
		want = append(want, finishStatus+" "+apiLoginFinish)
	}
	// The finish response event can trail the page's reaction to it by a moment.
	deadline := time.Now().Add(2 * time.Second)
	for len(c.apiResponses(mark)) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.apiResponses(mark); !slices.Equal(got, want) {
		t.Errorf("%s: API responses %q, want %q", what, got, want)
	}
}

// expectSignedOut replays every cookie the browser holds for the gateway from Go: none
// may get a request to the upstream.
func (c *chrome) expectSignedOut(t *testing.T, g *gateway, up *recorder, what string) {
	t.Helper()
	before := up.count()
	req, _ := http.NewRequest("GET", g.url+protectedPath, nil)
	for _, ck := range c.cookies(g.url) {
		req.AddCookie(ck)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), signInPath) || up.count() != before {
		t.Errorf("%s: the browser's cookies (%q) got %d Location %q, upstream reached %d times",
			what, req.Header.Get("Cookie"), resp.StatusCode, resp.Header.Get("Location"), up.count()-before)
	}
}

// expectUpstream checks the identity the upstream saw last.
func (c *chrome) expectUpstream(t *testing.T, up *recorder, email, methods string) {
	t.Helper()
	h := up.last(t)
	if h.Get("X-Gatehouse-User-Email") != email || h.Get("X-Gatehouse-Auth-Methods") != methods {
		t.Fatalf("upstream saw email %q methods %q, want %q %q", h.Get("X-Gatehouse-User-Email"), h.Get("X-Gatehouse-Auth-Methods"), email, methods)
	}
}
