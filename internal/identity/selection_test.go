package identity

import (
	"net/http"
	"slices"
	"testing"
)

func TestParseSelection(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		words []string
		want  Selection
	}{
		{[]string{"default"}, DefaultSelection},
		{[]string{"all"}, SendAll},
		{[]string{"user_id"}, SendUserID},
		{[]string{"user_id", "name"}, SendUserID | SendName},
		{[]string{"+assertion"}, DefaultSelection | SendAssertion},
		{[]string{"-email", "+name"}, DefaultSelection&^SendEmail | SendName},
		{[]string{"all", "-assertion"}, SendAll &^ SendAssertion},
		{[]string{"default", "teams"}, DefaultSelection | SendTeams},
	} {
		got, err := ParseSelection(c.words)
		if err != nil || got != c.want {
			t.Errorf("ParseSelection(%q) = %v, %v; want %v", c.words, got.Words(), err, c.want.Words())
		}
		// Words spells it back.
		if again, err := ParseSelection(got.Words()); err != nil || again != got {
			t.Errorf("round trip of %q: %v %v", got.Words(), again, err)
		}
	}
	for _, bad := range [][]string{nil, {"users"}, {"+nosuch"}, {"-all"}, {"user_id", "-user_id"}, {""}} {
		if s, err := ParseSelection(bad); err == nil {
			t.Errorf("ParseSelection(%q) = %v, want an error", bad, s.Words())
		}
	}
	// The default is what the README promises: who, where, roles, permission; no
	// name, teams, session, methods, tenant id or assertion unless asked for.
	if got := DefaultSelection.Words(); !slices.Equal(got, []string{"user_id", "email", "tenant", "roles", "permission"}) {
		t.Errorf("default = %q", got)
	}
}

func TestApplySelectedSendsOnlyTheSelection(t *testing.T) {
	t.Parallel()
	f := Facts{UserID: "u1", Email: "a@example.com", Name: "A", TenantID: "t1", TenantSlug: "acme",
		Roles: []string{"admin"}, Teams: []string{"sales"}, SessionID: "s1", AuthMethods: []string{"pwd"}}
	hs := NewHeaderSet(f)
	h := http.Header{}
	hs.ApplySelected(h, DefaultSelection)
	want := []string{HeaderUserID, HeaderUserEmail, HeaderTenant, HeaderRoles}
	var got []string
	for k := range h {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("default headers = %q, want %q", got, want)
	}
	h = http.Header{}
	hs.ApplySelected(h, SendName|SendTeams)
	if len(h) != 2 || h.Get(HeaderUserName) != "A" || h.Get(HeaderTeams) != "sales" {
		t.Fatalf("name+teams = %v", h)
	}
	// The Remote-* convention goes apart from the selection, all four.
	h = http.Header{}
	hs.ApplyRemote(h)
	if h.Get(HeaderRemoteUser) != "a@example.com" || h.Get(HeaderRemoteGroups) != "admin" || len(h) != 4 {
		t.Fatalf("remote set = %v", h)
	}
}
