package identity

import (
	_ "embed"
	"strings"
	"sync"
)

// blocklistText is the list of common and breached passwords CheckPassword refuses:
// one per line, lower case, '#' starts a comment. See the file's header for its source.
//
//go:embed blocklist.txt
var blocklistText string

// blocklistSet is blocklistText as a set, built on first use.
var blocklistSet = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 1024)
	for line := range strings.Lines(blocklistText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// blocklisted reports whether s (lower case) is on the blocklist.
func blocklisted(s string) bool {
	_, ok := blocklistSet()[s]
	return ok
}
