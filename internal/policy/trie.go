package policy

import "strings"

// node is a node of a search trie. Each rule is stored once, at the node its pattern's
// segments lead to; a search walks the path's segments down the literal child and the
// parameter child and keeps the smallest index of a rule that matches the whole
// request. Since min bounds every rule index below a node, a subtree that cannot beat
// the best match so far is skipped: first-match-wins without a linear scan.
type node struct {
	lits  map[string]*node // children by literal segment (folded in case-insensitive tries)
	param *node            // child for a {name} segment
	exact []int32          // rules whose pattern ends here, ascending
	rest  []int32          // rules whose pattern ends here with "/*", ascending
	min   int32            // smallest rule index in this subtree
}

func newNode() *node { return &node{min: noMatch} }

// buildTrie builds the trie for reading v (its pathVariants bits): literals are
// folded, cut at ';', and a pattern's trailing slash dropped, as the reading reads the
// path.
func (p *Policy) buildTrie(v Variant) *node {
	root := newNode()
	for i := range p.rules {
		idx := int32(i)
		pat := &p.rules[i].pat
		segs := pat.segs
		if v&VariantTrailingSlash != 0 && hasTrailingSlash(*pat) {
			segs = segs[:len(segs)-1]
		}
		n := root
		n.min = min(n.min, idx)
		for _, s := range segs {
			var next *node
			if s.param {
				if n.param == nil {
					n.param = newNode()
				}
				next = n.param
			} else {
				key := s.lit
				if v&VariantPathParams != 0 {
					key, _, _ = strings.Cut(key, ";")
				}
				if v&VariantCaseInsensitive != 0 {
					key = foldString(key)
				}
				if next = n.lits[key]; next == nil {
					if n.lits == nil {
						n.lits = make(map[string]*node)
					}
					next = newNode()
					n.lits[key] = next
				}
			}
			n = next
			n.min = min(n.min, idx)
		}
		if pat.prefix {
			n.rest = append(n.rest, idx)
		} else {
			n.exact = append(n.exact, idx)
		}
	}
	return root
}

// hasTrailingSlash reports whether pat ends with "/" and is not "/" itself.
func hasTrailingSlash(pat pattern) bool {
	n := len(pat.segs)
	return !pat.prefix && n > 1 && !pat.segs[n-1].param && pat.segs[n-1].lit == ""
}

// search is one request's query. It lives on the stack.
type search struct {
	p      *Policy
	host   string
	method string

	// set by find for the reading being searched
	fold   bool // case-insensitive
	params bool // strip ";…" from segments
	mfold  bool // method case ignored
	mbit   methodSet
}

// find returns the index of the first rule matching the request under reading v, or
// noMatch.
func (s *search) find(path string, v Variant) int32 {
	s.fold = v&VariantCaseInsensitive != 0
	s.params = v&VariantPathParams != 0
	s.mfold = v&VariantMethodCase != 0
	if s.mfold {
		s.mbit = methodBitFold(s.method)
	} else {
		s.mbit = methodBit(s.method)
	}
	if v&VariantTrailingSlash != 0 && len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return s.walk(s.p.tries[v&pathVariants], path[1:], false, noMatch)
}

// walk searches below n for the rest of the path (rest, without a leading "/"; done
// when every segment has been consumed) and returns the smallest matching rule index
// below best, or best.
func (s *search) walk(n *node, rest string, done bool, best int32) int32 {
	if n.min >= best {
		return best
	}
	best = s.first(n.rest, best)
	if done {
		return s.first(n.exact, best)
	}
	seg, tail, last := cutSegment(rest)
	if s.params {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
	}
	if n.lits != nil {
		if child := s.lookup(n.lits, seg); child != nil {
			best = s.walk(child, tail, last, best)
		}
	}
	if n.param != nil && seg != "" {
		best = s.walk(n.param, tail, last, best)
	}
	return best
}

// first returns the first rule of rules (ascending) below best whose host and method
// match the request, or best.
func (s *search) first(rules []int32, best int32) int32 {
	for _, i := range rules {
		if i >= best {
			break
		}
		r := &s.p.rules[i]
		if r.matchHost(s.host) && r.matchMethod(s.method, s.mbit, s.mfold) {
			return i
		}
	}
	return best
}

// lookup finds the child for segment seg, folding it in a case-insensitive reading
// (in a stack buffer, so without allocating for segments of usual length).
func (s *search) lookup(m map[string]*node, seg string) *node {
	if !s.fold || !needsFold(seg) {
		return m[seg]
	}
	var buf [128]byte
	return m[string(appendFold(buf[:0], seg))]
}
