package policy

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Reading YAML nodes for policy files: keys, strings, aliases, and error wording.

// mapping calls fn for each entry of m, reporting keys that are not names, repeated,
// or YAML merge keys.
func (p *fileParser) mapping(m *yaml.Node, fn func(key string, k, v *yaml.Node)) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.Value == "<<":
			p.errorf(k, "merge keys (<<) are not supported: write the keys out")
		case k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str":
			p.errorf(k, "a key must be a name, not %s", describe(resolve(k)))
		case seen[k.Value] != nil:
			p.errorf(k, "%s: is given twice (first on line %d)", k.Value, seen[k.Value].Line)
		default:
			seen[k.Value] = k
			fn(k.Value, k, v)
		}
	}
}

// str returns the string value of v, reporting any other kind of value.
func (p *fileParser) str(key string, v *yaml.Node) (string, bool) {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		return v.Value, true
	}
	hint := ""
	if v.Kind == yaml.ScalarNode && v.ShortTag() != "!!null" {
		hint = fmt.Sprintf(` (quote it: "%s")`, v.Value)
	}
	p.errorf(v, "%s: want a string, not %s%s", key, describe(v), hint)
	return "", false
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// describe names a node's value for an error message.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch tag := n.ShortTag(); tag {
		case "!!null":
			return "an empty value"
		case "!!str":
			return strconv.Quote(n.Value)
		case "!!bool":
			return n.Value
		case "!!int", "!!float":
			return "the number " + n.Value
		default:
			return fmt.Sprintf("%s %q", tag, n.Value)
		}
	}
	return "nothing"
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to s, when it is
// close enough to be a typo.
func suggest(s string, candidates []string) string {
	best, dist := "", 3
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < dist {
			best, dist = c, d
		}
	}
	if best == "" || best == s {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
