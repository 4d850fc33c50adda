package identity

import (
	"strings"
	"testing"
	"unicode"
)

func TestBlocklistFile(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	entries := 0
	for i, line := range strings.Split(blocklistText, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		entries++
		if line != strings.ToLower(line) {
			t.Errorf("line %d: %q is not lower case", i+1, line)
		}
		if strings.ContainsFunc(line, unicode.IsSpace) {
			t.Errorf("line %d: %q contains white space", i+1, line)
		}
		if prev, ok := seen[line]; ok {
			t.Errorf("line %d: %q repeats line %d", i+1, line, prev)
		}
		seen[line] = i + 1
	}
	if entries < 500 {
		t.Errorf("blocklist has %d entries; want several hundred", entries)
	}
	if len(blocklistSet()) != entries {
		t.Errorf("set has %d entries, file %d", len(blocklistSet()), entries)
	}
	if !strings.Contains(blocklistText, "Source: written for Gatehouse") {
		t.Error("blocklist.txt does not document its source")
	}
}

func TestBlocklisted(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"password", "123456", "qwerty", "iloveyou", "letmein", "trustno1", "p@ssw0rd", "correcthorsebatterystaple", "пароль"} {
		if !blocklisted(pw) {
			t.Errorf("%q is not blocklisted", pw)
		}
	}
	for _, pw := range []string{"", "Password", "vivid otter lantern maple"} {
		if blocklisted(pw) {
			t.Errorf("%q is blocklisted (entries are lower case, matched exactly)", pw)
		}
	}
}
