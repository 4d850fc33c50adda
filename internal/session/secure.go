package session

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// SecureRequest tells whether cookies for this request must be Secure and
// __Host-prefixed: always, except for plain HTTP to a loopback host (development on
// http://localhost). Behind a TLS-terminating proxy the request reaches Caddy over HTTP
// but the browser is on HTTPS, so "plain HTTP" alone must not weaken the cookie; a
// non-loopback site served over plain HTTP cannot keep sessions in a browser — use HTTPS.
func SecureRequest(r *http.Request) bool {
	return r.TLS != nil || !loopbackHost(r.Host)
}

func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
