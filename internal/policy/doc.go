// Package policy decides, for each proxied request, what access its route requires:
// public, signed in, or denied (and, later, a permission of the RBAC model).
//
// A Policy is compiled once from ordered Rules and asked on every request with
// Decide(host, method, path). The first rule that matches wins; when none matches, the
// policy's default applies. Decide does not allocate and stays well under a
// microsecond with a thousand rules: rules are compiled into a trie keyed by path
// segment, and every node knows the smallest rule index below it, so the search keeps
// first-match-wins order while skipping subtrees that cannot beat the best match so far.
//
// # The path the policy sees
//
// The path must first go through NormalizePath, which takes the raw (escaped) path of
// the request, refuses every encoding that parsers disagree about (%2f, %5c, dot
// segments in any spelling, "..;", "//", control characters, invalid or double
// percent-encoding, invalid UTF-8) and returns the decoded path. The gateway answers a
// refused path with 400 and forwards the request path unchanged otherwise, so the
// policy decides on the same path the upstream receives.
//
// # Lenient upstreams: decide on every spelling, keep the strictest
//
// Rules match the path case-sensitively, methods exactly, and a trailing slash is
// significant. Many upstream apps are more lenient than that: IIS, ASP.NET and some
// frameworks match paths case-insensitively (so /ADMIN reaches /admin), Express and
// others ignore a trailing slash (/admin/ reaches /admin), Tomcat and Spring drop
// ";param" path parameters from each segment (/admin;x reaches /admin), and some
// frameworks upper-case the method (post reaches POST). A rule such as
// "/admin/* deny" would be bypassed by any of these spellings if the policy only
// compared exactly.
//
// So Decide also decides on each lenient reading that the request makes possible,
// every combination of them, and returns the strictest answer (deny > signed_in >
// public). An extra reading is only evaluated when it can differ from the exact one:
// case-insensitive when the path (or some rule's literal) has letters that fold;
// trailing-slash-insensitive when the path (or some rule) ends with "/"; path
// parameters when the path has a ';'; method case when the method has lower-case
// letters. A typical request therefore costs a single search.
//
// Taking the strictest answer can only ever refuse more, never let more through: a
// request is allowed only if every reading of it is allowed. The price is that a
// request the exact reading would allow is refused when a lenient reading hits a
// stricter rule; that is the fail-closed side, and Decision.Variant says which reading
// decided, so "policy explain" can show it.
//
// Case-insensitive matching folds ASCII letters and the Unicode simple case mappings
// (so "ſ", "ı" and the Kelvin sign "K" fold like the ASCII letters some platforms map
// them to). Path parameters are stripped from each segment at the first ';'.
//
// # Hosts and methods
//
// A rule may name a host, exactly ("app.example.com") or as a one-label wildcard
// ("*.example.com" matches "a.example.com", not "example.com" nor "a.b.example.com").
// Hosts compare case-insensitively, and one trailing dot is ignored. The caller strips
// the port (net.SplitHostPort) before calling Decide. A rule may list methods
// (upper case, compared exactly); a rule that lists GET also matches HEAD, because
// upstreams answer HEAD with their GET handler.
package policy
