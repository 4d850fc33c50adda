package web

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestPasskeyRenameAndDelete: the settings forms rename and delete the user's own
// passkeys, never another user's.
func TestPasskeyRenameAndDelete(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 4)
	u := f.addUser(t, "pk@example.com", "a perfectly fine passphrase")
	other := f.addUser(t, "other@example.com", "a perfectly fine passphrase")
	c := noRedirect(t)
	apiLogin(t, c, f.srv.URL, "pk@example.com", "a perfectly fine passphrase") // before the passkeys exist
	for _, p := range []store.Passkey{
		{ID: "mine", UserID: u.ID, CredentialID: []byte("cred-mine"), PublicKey: []byte{1}, Name: "Laptop", CreatedAt: time.Now()},
		{ID: "theirs", UserID: other.ID, CredentialID: []byte("cred-theirs"), PublicKey: []byte{1}, Name: "Phone", CreatedAt: time.Now()},
	} {
		if err := f.handle.Passkeys().AddPasskey(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	page := func() string {
		resp, err := c.Get(f.srv.URL + "/auth/settings/security")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(action string, v url.Values) int {
		m := csrfRE.FindStringSubmatch(page())
		v.Set("csrf", m[1])
		req, _ := http.NewRequest("POST", f.srv.URL+"/auth/settings/"+action, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if body := page(); !strings.Contains(body, "Laptop") || strings.Contains(body, "Phone") {
		t.Fatal("settings page does not list exactly the user's passkeys")
	}
	if st := post("passkeys/rename", url.Values{"id": {"mine"}, "name": {"Work laptop"}}); st != http.StatusSeeOther || !strings.Contains(page(), "Work laptop") {
		t.Fatalf("rename: %d", st)
	}
	if st := post("passkeys/delete", url.Values{"id": {"theirs"}}); st != http.StatusNotFound {
		t.Fatalf("deleting another user's passkey: %d", st)
	}
	if st := post("passkeys/rename", url.Values{"id": {"theirs"}, "name": {"Mine now"}}); st != http.StatusNotFound {
		t.Fatalf("renaming another user's passkey: %d", st)
	}
	if st := post("passkeys/delete", url.Values{"id": {"mine"}}); st != http.StatusSeeOther {
		t.Fatalf("delete: %d", st)
	}
	if pks, _ := f.handle.Passkeys().ListPasskeys(t.Context(), u.ID); len(pks) != 0 {
		t.Fatal("passkey not deleted")
	}
	if pks, _ := f.handle.Passkeys().ListPasskeys(t.Context(), other.ID); len(pks) != 1 || pks[0].Name != "Phone" {
		t.Fatal("another user's passkey changed")
	}
}
