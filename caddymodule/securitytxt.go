package caddymodule

import (
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
)

// securityTxtPath is where RFC 9116 puts the disclosure file.
const securityTxtPath = "/.well-known/security.txt"

// securityTxtTTL is how long an answer is reused: a workspace's change shows within it.
const securityTxtTTL = 30 * time.Second

// securityTxts caches each workspace's security.txt briefly, so that a flood of
// requests for it does not become a flood of store reads.
type securityTxts struct {
	mu      sync.Mutex
	entries map[string]securityTxtEntry // by tenant id and canonical URL
}

type securityTxtEntry struct {
	body string
	at   time.Time
}

// serve answers /.well-known/security.txt for the workspace of the request's host
// when it has a disclosure contact (GET and HEAD; 405 for other methods). It returns
// false, having written nothing, when there is no such file (no contact, expired, or
// the host is no workspace's): the request then goes on like any other, so an app
// that serves its own file behind a public rule still does.
func (c *securityTxts) serve(w http.ResponseWriter, r *http.Request, gw *gateway.Gateway, https bool, log *zap.Logger) bool {
	ws, err := gw.Tenants.Resolve(r.Context(), r.Host)
	if err != nil {
		return false
	}
	canonical := ""
	if https {
		canonical = "https://" + r.Host + securityTxtPath
	}
	now := time.Now()
	key := ws.ID + " " + canonical
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || now.Sub(e.at) > securityTxtTTL {
		body, err := admin.SecurityTxtOf(r.Context(), ws, canonical, now)
		if err != nil {
			log.Error("security.txt", zap.Error(err))
			w.Header().Set("Retry-After", "5")
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return true
		}
		e = securityTxtEntry{body: body, at: now}
		c.mu.Lock()
		if c.entries == nil || len(c.entries) > 10_000 {
			c.entries = map[string]securityTxtEntry{}
		}
		c.entries[key] = e
		c.mu.Unlock()
	}
	if e.body == "" {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return true
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(e.body))
	}
	return true
}
