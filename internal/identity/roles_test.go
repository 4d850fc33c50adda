package identity

import "testing"

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	good := map[string]string{" Alice@Example.COM ": "alice@example.com", "a.b+c@x.io": "a.b+c@x.io"}
	for in, want := range good {
		if got, err := NormalizeEmail(in); err != nil || got != want {
			t.Errorf("NormalizeEmail(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "alice", "@example.com", "alice@", "a@b@c", "a b@c.d", "a@b.c\r\nBcc: x@y.z", "<a@b.c>"} {
		if _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("NormalizeEmail(%q) accepted", bad)
		}
	}
}

func TestCheckRoles(t *testing.T) {
	t.Parallel()
	if err := CheckRoles([]string{"owner", "member"}); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]string{nil, {"root"}, {"Owner"}} {
		if err := CheckRoles(bad); err == nil {
			t.Errorf("CheckRoles(%q) accepted", bad)
		}
	}
}
