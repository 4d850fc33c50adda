package identity

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// FuzzStrip checks Stripper.Strip on any set of request headers, against a model
// written here independently of the stripper: a header is removed exactly when its
// name, ASCII-lowercased with '_' read as '-', starts with "x-gatehouse-", is a
// Remote-* name or one of the stripper's foreign names; every other header is kept
// with its values untouched; Connection keeps every token but the stripped names; and
// the count returned is the headers removed (plus one for a rewritten Connection).
//
// The input is the headers as a client sends them, "Name: value" a line (names and
// values are arbitrary: net/http canonicalises only valid names, so the odd spellings
// reach the stripper as sent), and a Connection value.
func FuzzStrip(f *testing.F) {
	f.Add("X-Gatehouse-User-Id: u1\nx_gatehouse_roles: admin\nAccept: */*\nRemote_User: root", "keep-alive, X-Gatehouse-Tenant")
	f.Add("X-FORWARDED-USER: a\nX-Forwarded-User2: b\nX-Original-Url: /admin\nx-api-user: c\nX-Gatehouse-: d", "x_forwarded_email,,close")
	f.Add("Remote-Groups: g\nRemote-Group: h\nX-Gatehouse: i\nX-GatehouseUser: j\nX-Remote-User: k", "")
	f.Add("\xff: v\n: empty\nX-Gatehouse-\u212a: kelvin\nX-Gatehouse-User-Id: a\nx-gatehouse-user-id: b", "X-Gatehouse-\u212a , upgrade")
	foreign := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, lowerDash(n))
		}
		return out
	}
	strippers := []struct {
		s       *Stripper
		foreign []string
	}{
		{DefaultStripper(), foreign(DefaultForeignHeaders...)},
		{&Stripper{}, foreign(DefaultForeignHeaders...)}, // the zero value strips the defaults
		{ownOnly, nil},
		{mustStripper([]string{"X-Api-User", "x_tenant"}, []string{"X-Original-URL", "x_remote_user"}),
			foreign(slices.DeleteFunc(slices.Clone(DefaultForeignHeaders), func(n string) bool {
				return n == "X-Original-URL" || n == "X-Remote-User"
			})...)},
	}
	strippers[3].foreign = append(strippers[3].foreign, "x-api-user", "x-tenant")
	f.Fuzz(func(t *testing.T, headers, connection string) {
		for _, st := range strippers {
			stripped := func(name string) bool {
				l := lowerDash(name)
				return strings.HasPrefix(l, "x-gatehouse-") || slices.Contains(remoteNames, l) || slices.Contains(st.foreign, l)
			}
			h := http.Header{}
			for line := range strings.SplitSeq(headers, "\n") {
				name, value, _ := strings.Cut(line, ":")
				h.Add(name, strings.TrimSpace(value))
			}
			if connection != "" {
				h.Add("Connection", connection)
			}
			before := h.Clone()
			n := st.s.Strip(h)

			removed := 0
			for k, vs := range before {
				if st.s.Strips(k) != stripped(k) {
					t.Fatalf("Strips(%q) = %v", k, st.s.Strips(k))
				}
				_, kept := h[k]
				switch {
				case stripped(k) && kept:
					t.Fatalf("%q survived: %q", k, h)
				case stripped(k):
					removed++
				case !kept && k != "Connection":
					t.Fatalf("%q removed", k)
				case k != "Connection" && !slices.Equal(h[k], vs):
					t.Fatalf("%q changed: %q -> %q", k, vs, h[k])
				}
			}
			for k := range h {
				if _, ok := before[k]; !ok {
					t.Fatalf("%q added", k)
				}
			}
			if conn, ok := before["Connection"]; ok && !stripped("Connection") {
				var all, want []string
				for _, v := range conn {
					for tok := range strings.SplitSeq(v, ",") {
						if tok = strings.TrimSpace(tok); tok != "" {
							all = append(all, tok)
							if !stripped(tok) {
								want = append(want, tok)
							}
						}
					}
				}
				var got []string
				for _, v := range h["Connection"] {
					for tok := range strings.SplitSeq(v, ",") {
						if tok = strings.TrimSpace(tok); tok != "" {
							got = append(got, tok)
						}
					}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("Connection %q -> %q; want the tokens %q", conn, h["Connection"], want)
				}
				if len(want) < len(all) {
					removed++ // a rewritten Connection counts as one
				} else if !slices.Equal(h["Connection"], conn) {
					t.Fatalf("Connection %q rewritten to %q with nothing to drop", conn, h["Connection"])
				}
			}
			if n != removed {
				t.Fatalf("Strip returned %d, removed %d", n, removed)
			}
		}
	})
}

// lowerDash is the model's spelling of a header name: ASCII lowercase, '_' read as '-'.
func lowerDash(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		b.WriteByte(c)
	}
	return b.String()
}
