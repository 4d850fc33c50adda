package policy

import (
	"fmt"
	weakrand "math/rand/v2"
	"strings"
)

// randGen makes random path patterns and request paths for the tests that compare
// two ways of matching (the trie and a reference, Explain and Decide, the shadowing
// check and matching).
type randGen struct {
	rng  *weakrand.Rand
	lits []string // the literal segments to pick from
	// paramOneIn: a pattern segment is a parameter one time in this many; endOneIn:
	// a pattern ends with "/*" or "/" (each) one time in this many, a path with "/"
	// too; pathParams: a path segment sometimes carries ";p".
	paramOneIn, endOneIn int
	pathParams           bool
}

func (g *randGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

// path returns a request path of up to three segments.
func (g *randGen) path() string {
	n := g.rng.IntN(4)
	var b strings.Builder
	for range n {
		b.WriteString("/" + g.pick(g.lits))
		if g.pathParams && g.rng.IntN(6) == 0 {
			b.WriteString(";p")
		}
	}
	if n == 0 || g.rng.IntN(g.endOneIn) == 0 {
		b.WriteString("/")
	}
	return b.String()
}

// pattern returns a path pattern of up to three segments, literal or parameter,
// exact, with a trailing slash, or a prefix.
func (g *randGen) pattern() string {
	n := g.rng.IntN(4)
	var b strings.Builder
	for range n {
		if g.rng.IntN(g.paramOneIn) == 0 {
			fmt.Fprintf(&b, "/{p%d}", b.Len())
		} else {
			b.WriteString("/" + g.pick(g.lits))
		}
	}
	switch g.rng.IntN(g.endOneIn) {
	case 0:
		b.WriteString("/*")
	case 1:
		b.WriteString("/")
	default:
		if n == 0 {
			b.WriteString("/")
		}
	}
	return b.String()
}
