package policy

import (
	"encoding/json"
	"testing"
)

func TestParseAccess(t *testing.T) {
	for _, a := range []Access{Public, SignedIn, Deny} {
		got, err := ParseAccess(a.String())
		if err != nil || got != a {
			t.Errorf("ParseAccess(%q) = %v, %v", a.String(), got, err)
		}
	}
	for s, want := range map[string]Access{"public": Public, "signed_in": SignedIn, "deny": Deny} {
		if got, err := ParseAccess(s); err != nil || got != want {
			t.Errorf("ParseAccess(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "Public", "DENY", "signed-in", "signedin", " public", "allow", "require", "permission"} {
		if got, err := ParseAccess(s); err == nil {
			t.Errorf("ParseAccess(%q) = %v, nil; want an error", s, got)
		}
	}
}

func TestAccessString(t *testing.T) {
	for a, want := range map[Access]string{Public: "public", SignedIn: "signed_in", Deny: "deny", Access(200): "Access(200)"} {
		if got := a.String(); got != want {
			t.Errorf("Access(%d).String() = %q; want %q", uint8(a), got, want)
		}
	}
	var zero Access
	if zero != Deny {
		t.Error("the zero Access must be Deny (fail closed)")
	}
}

func TestAccessText(t *testing.T) {
	var v struct{ A Access }
	if err := json.Unmarshal([]byte(`{"A":"signed_in"}`), &v); err != nil || v.A != SignedIn {
		t.Fatalf("unmarshal: %v, %v", v.A, err)
	}
	if err := json.Unmarshal([]byte(`{"A":"allow"}`), &v); err == nil {
		t.Error("unmarshal of an unknown access succeeded")
	}
	b, err := json.Marshal(struct{ A Access }{Public})
	if err != nil || string(b) != `{"A":"public"}` {
		t.Errorf("marshal: %s, %v", b, err)
	}
	if _, err := json.Marshal(struct{ A Access }{Access(9)}); err == nil {
		t.Error("marshal of an invalid access succeeded")
	}
}

func TestStricter(t *testing.T) {
	cases := []struct{ a, b, want Access }{
		{Public, Public, Public},
		{Public, SignedIn, SignedIn},
		{SignedIn, Public, SignedIn},
		{Public, Deny, Deny},
		{Deny, SignedIn, Deny},
		{SignedIn, Deny, Deny},
		{Deny, Deny, Deny},
		{Public, Access(77), Access(77)}, // invalid counts as deny
	}
	for _, c := range cases {
		if got := Stricter(c.a, c.b); got != c.want {
			t.Errorf("Stricter(%v, %v) = %v; want %v", c.a, c.b, got, c.want)
		}
	}
}
