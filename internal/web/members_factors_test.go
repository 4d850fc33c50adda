package web

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestRestoreRemovedFactor: after a reset, the member's page lists the removed
// passkey and recovery codes with a Restore button each, and the API twin lists
// them too; members and admins acting on an owner are refused; a form without the
// CSRF token restores nothing; the button and the API restore (audited), and a
// second restore of the same factor is 404 no_such_factor. Recovery codes
// superseded by a new set are 409 factor_superseded.
func TestRestoreRemovedFactor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	owner := f.addUserRole(t, "owner@example.com", pw, "owner")
	f.addUserRole(t, "admin@example.com", pw, "admin")
	member := f.addUser(t, "member@example.com", pw)
	oc, ac, mc := noRedirect(t), noRedirect(t), noRedirect(t)
	signInAs(t, f, oc, "owner@example.com", pw)
	signInAs(t, f, ac, "admin@example.com", pw)
	signInAs(t, f, mc, "member@example.com", pw)
	ctx := context.Background()
	pk := store.Passkey{ID: "pk-laptop", UserID: member.ID, CredentialID: bytes.Repeat([]byte{4}, 32), PublicKey: []byte("k"),
		AttestationType: "none", Name: "Laptop", CreatedAt: time.Now()}
	if err := f.ws.Passkeys().AddPasskey(ctx, pk); err != nil {
		t.Fatal(err)
	}
	if _, err := f.mfa.RegenerateRecoveryCodes(ctx, f.ws, member.ID); err != nil {
		t.Fatal(err)
	}
	base := f.srv.URL + "/auth/api/v1/admin/members/"
	if st, out := postJSON(t, oc, f.srv.URL+"/auth/api/v1/admin/users/"+member.ID+"/reset-2fa", map[string]any{}); st != http.StatusOK {
		t.Fatalf("reset-2fa: %d %v", st, out)
	}

	st, out := getJSON(t, ac, base+member.ID+"/factors/removed")
	list, _ := out["removed_factors"].([]any)
	if st != http.StatusOK || len(list) != 2 {
		t.Fatalf("removed factors: %d %v", st, out)
	}
	for _, c := range []struct {
		who    string
		client *http.Client
		target string
	}{{"a member", mc, member.ID}, {"an admin, of the owner", ac, owner.ID}} {
		if st, out := getJSON(t, c.client, base+c.target+"/factors/removed"); st != http.StatusForbidden {
			t.Errorf("%s listing removed factors: %d %v", c.who, st, out)
		}
		if st, out := postJSON(t, c.client, base+c.target+"/factors/restore", map[string]string{"kind": "passkey", "id": pk.ID}); st != http.StatusForbidden {
			t.Errorf("%s restoring: %d %v", c.who, st, out)
		}
	}

	back := "/auth/admin/members/" + member.ID
	_, page := getPage(t, oc, f.srv.URL+back)
	if !strings.Contains(page, "Removed second factors") || !strings.Contains(page, "Passkey “Laptop”") ||
		!strings.Contains(page, `action="`+back+`/factors/restore"`) || !strings.Contains(page, `value="pk-laptop"`) {
		t.Fatalf("the member's page after the reset:\n%s", page)
	}
	if resp, err := oc.PostForm(f.srv.URL+back+"/factors/restore", url.Values{"back": {back}, "kind": {"passkey"}, "factor": {pk.ID}}); err != nil || resp.StatusCode < 400 {
		t.Fatalf("a restore form without a CSRF token: %v %v", resp, err)
	}
	if _, err := f.ws.Passkeys().PasskeyByCredentialID(ctx, pk.CredentialID); err == nil {
		t.Fatal("a restore form without a CSRF token restored the passkey")
	}

	st, _, body := submit(t, oc, f.srv.URL+back, f.srv.URL+back+"/factors/restore", url.Values{"back": {back}, "kind": {"passkey"}, "factor": {pk.ID}})
	if st != http.StatusOK || !strings.Contains(body, "Their passkey “Laptop” is restored") {
		t.Fatalf("restore form: %d\n%s", st, body)
	}
	if _, err := f.ws.Passkeys().PasskeyByCredentialID(ctx, pk.CredentialID); err != nil {
		t.Fatalf("the restored passkey: %v", err)
	}
	if recs := f.audits(t, admin.ActionFactorRestored); len(recs) != 1 || recs[0].ActorID != owner.ID || recs[0].Target != "user:"+member.ID ||
		recs[0].Details["kind"] != "passkey" || recs[0].Details["passkey"] != pk.ID {
		t.Fatalf("audit: %+v", recs)
	}
	if st, out := postJSON(t, oc, base+member.ID+"/factors/restore", map[string]string{"kind": "passkey", "id": pk.ID}); st != http.StatusNotFound || out["error"] != "no_such_factor" {
		t.Fatalf("restoring the passkey twice: %d %v", st, out)
	}

	// New recovery codes supersede the removed set.
	if _, err := f.mfa.RegenerateRecoveryCodes(ctx, f.ws, member.ID); err != nil {
		t.Fatal(err)
	}
	if st, out := postJSON(t, oc, base+member.ID+"/factors/restore", map[string]string{"kind": "recovery_codes"}); st != http.StatusConflict || out["error"] != "factor_superseded" {
		t.Fatalf("restoring superseded recovery codes: %d %v", st, out)
	}
	if _, page := getPage(t, oc, f.srv.URL+back); !strings.Contains(page, "cannot come back") {
		t.Fatalf("the member's page does not say the codes are superseded:\n%s", page)
	}
}
