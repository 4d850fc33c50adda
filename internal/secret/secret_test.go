package secret

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestTokensAreRandomAndHashed(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := NewToken()
		if len(tok) != 43 || seen[tok] {
			t.Fatalf("token %q: wrong length or repeated", tok)
		}
		seen[tok] = true
	}
	if len(HashToken("x")) != 32 || string(HashToken("a")) == string(HashToken("b")) {
		t.Fatal("HashToken is not SHA-256")
	}
	if id := NewID(); len(id) != 26 || id == NewID() {
		t.Fatalf("NewID %q", id)
	}
}

func TestRedactedNeverPrints(t *testing.T) {
	r := Redacted("hunter2-secret")
	b, _ := json.Marshal(map[string]any{"pw": r})
	core, logs := observer.New(zap.InfoLevel)
	zap.New(core).Info("x", zap.Stringer("pw", r), zap.Any("any", r))
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%v %s %#v %+v", r, r, r, r), string(b), fmt.Sprint(logs.All()[0].ContextMap())} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if r.Reveal() != "hunter2-secret" {
		t.Fatal("Reveal lost the value")
	}
}
