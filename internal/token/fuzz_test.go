package token

import (
	"encoding/binary"
	"strings"
	"testing"
)

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// FuzzVerify checks that a bearer token is accepted only as it was signed. The
// genuine token is a real access token, issued for a signed-in session by the token
// service over a SQLite store; the fuzzer edits it (edits is a script of 4-byte steps:
// an operation — replace, insert, delete, or flip bits of a base64url character —, a
// position counted from the end, and a byte) and also offers
// tokens of its own (raw). The verifier accepts the edited token only when the edits
// left its bytes unchanged, and Inspect calls a token verified only then; a token of
// the fuzzer's own is always refused (it cannot know the ring's private key). Nothing
// panics.
func FuzzVerify(f *testing.F) {
	f.Add([]byte{}, "")
	f.Add([]byte{0, 0xff, 0xff, 'A'}, "e30.e30.")
	f.Add([]byte{0, 0, 10, 'x', 2, 0, 20, 0}, "eyJhbGciOiJub25lIn0.e30.")
	f.Add([]byte{1, 0xff, 0xff, '='}, "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.AAAA")
	f.Add([]byte{2, 0x7f, 0xff, 0, 1, 0x7f, 0xff, '.'}, "a.b.c.d")
	f.Add([]byte{3, 0, 0, 1}, "") // the signature's last character, its unused low bit flipped
	fx := newFixture(f)
	e, g := fx.issued(f, "ann@acme.test")
	genuine, tenant := g.AccessToken, fx.ws.TenantID()
	f.Fuzz(func(t *testing.T, edits []byte, raw string) {
		tok := []byte(genuine)
		for ; len(edits) >= 4; edits = edits[4:] {
			op, pos, b := edits[0]%4, int(binary.BigEndian.Uint16(edits[1:3])), edits[3]
			if len(tok) == 0 && op != 1 {
				continue
			}
			at := len(tok) - 1 - pos%max(len(tok), 1) // positions count from the end
			switch op {
			case 0: // replace
				tok[at] = b
			case 1: // insert
				at = len(tok) - pos%(len(tok)+1)
				tok = append(tok[:at], append([]byte{b}, tok[at:]...)...)
			case 2: // delete
				tok = append(tok[:at], tok[at+1:]...)
			case 3: // flip bits of a base64url character, keeping it one
				if i := strings.IndexByte(b64Alphabet, tok[at]); i >= 0 {
					tok[at] = b64Alphabet[(i^int(b))%64]
				}
			}
		}
		for _, c := range []string{string(tok), raw} {
			sid, err := fx.verifier.Verify(c, site, tenant)
			in, ierr := fx.keys.Inspect(c, fx.clk.Now())
			switch {
			case c == genuine && (err != nil || sid != e.Session.ID || ierr != nil || !in.Verified || in.Problem != ""):
				t.Fatalf("the genuine token: %q %v; inspect %+v %v", sid, err, in, ierr)
			case c != genuine && err == nil:
				t.Fatalf("accepted a token that is not the one signed:\n%s\nsigned:\n%s", c, genuine)
			case c != genuine && in.Verified:
				t.Fatalf("inspect calls a token verified that is not the one signed:\n%s\nsigned:\n%s", c, genuine)
			}
		}
	})
}

// TestOneSpellingOfASignature: a token verifies only as it was signed. Two ways a
// lenient base64url decoder let other spellings of a genuine token through: the last
// character of a signature carries 4 bits that encode nothing (64 bytes are 85⅓
// characters), and Go's decoder skips CR and LF anywhere (FuzzVerify found that one:
// testdata/fuzz/FuzzVerify/b367b03cf133b268).
func TestOneSpellingOfASignature(t *testing.T) {
	t.Parallel()
	fx := newFixture(t)
	_, g := fx.issued(t, "ann@acme.test")
	tok := g.AccessToken
	last := len(tok) - 1
	var others []string
	for _, c := range []byte(b64Alphabet) {
		if c != tok[last] {
			others = append(others, tok[:last]+string(c))
		}
	}
	sig := strings.LastIndexByte(tok, '.') + 1
	for _, nl := range []string{"\r", "\n", "\r\n"} {
		others = append(others, tok[:sig+10]+nl+tok[sig+10:], tok+nl)
	}
	for _, o := range others {
		if _, err := fx.verifier.Verify(o, site, fx.ws.TenantID()); err == nil {
			t.Errorf("accepted %q (signed %q)", o[sig:], tok[sig:])
		}
		if in, err := fx.keys.Inspect(o, fx.clk.Now()); err == nil && (in.Verified || in.Problem == "") {
			t.Errorf("inspect: %q verified (signed %q)", o[sig:], tok[sig:])
		}
	}
	if _, err := fx.verifier.Verify(tok, site, fx.ws.TenantID()); err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
}
