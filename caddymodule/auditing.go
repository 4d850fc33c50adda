package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// defaultSpoolMax caps the audit spool unless audit_spool_max says otherwise.
const defaultSpoolMax = 256 << 20

// auditPool shares one audit committer (and its spool, which one process at a time
// may hold) across config reloads, like the store.
var auditPool = caddy.NewUsagePool()

type pooledCommitter struct{ *audit.Committer }

// Destruct drains the queue into the store (or the spool) and closes the spool.
func (p *pooledCommitter) Destruct() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.Stop(ctx)
	return errors.Join(err, p.Spool.Close())
}

// spoolPath is where the audit spool lives: audit_spool; else beside an SQLite
// database file (so that a container's data volume keeps it); else in Caddy's data
// directory.
func (a *App) spoolPath() string {
	r := caddy.NewReplacer()
	if a.AuditSpool != "" {
		return r.ReplaceAll(a.AuditSpool, "")
	}
	if rest, ok := strings.CutPrefix(r.ReplaceAll(a.Store, ""), "sqlite://"); ok {
		if db, _, _ := strings.Cut(rest, "?"); db != "" && !strings.Contains(db, ":memory:") {
			return filepath.Join(filepath.Dir(db), "audit.spool")
		}
	}
	return filepath.Join(caddy.AppDataDir(), "gatehouse", "audit.spool")
}

// openCommitter opens (or shares) the committer of proxied-request records; seal
// prepares each record (chain version and personal-field digest) before its append.
func (a *App) openCommitter(st store.Store, dsn string, seal func(store.AuditRecord) store.AuditRecord) (*audit.Committer, error) {
	path := a.spoolPath()
	key := path + "\x00" + dsn
	val, _, err := auditPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		sp, err := audit.OpenSpool(path, a.auditSpoolMax)
		if err != nil {
			return nil, fmt.Errorf("audit_spool: %w", err)
		}
		c := &audit.Committer{Trails: st, Spool: sp, Logger: a.logger.Named("audit"), Prepare: seal}
		c.Start()
		return &pooledCommitter{Committer: c}, nil
	})
	if err != nil {
		return nil, err
	}
	a.auditKey = key
	c := val.(*pooledCommitter).Committer
	a.metrics.watchAudit(c)
	return c, nil
}

// parseSize reads a size such as 256MiB, 1GB or 1048576 (bytes).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	}
	mult := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if mult == 0 || err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size such as 256MiB, 1GB or 1048576", s)
	}
	return int64(v * mult), nil
}

// auditing records a site's proxied requests and policy denials.
type auditing struct {
	policy  *policy.Policy
	commit  *audit.Committer
	denials *audit.Denials
	log     *zap.Logger
}

// proxy calls next for an allowed request and, when the route records this method,
// hands a record of it (with the upstream's status and the duration) to the group
// commit. While the spool is full, audited requests are refused with 503: a request
// that cannot be recorded does not go through.
func (au *auditing) proxy(w http.ResponseWriter, r *http.Request, d gateway.Decision, repl *caddy.Replacer, next caddyhttp.Handler, gw *gateway.Gateway) error {
	if !au.policy.Audited(d.Rule, r.Method) {
		return next.ServeHTTP(w, r)
	}
	if au.commit.Saturated() {
		au.log.Error("audit spool full: refusing an audited request until the store is back")
		gw.Respond(w, r, gateway.Decision{Outcome: gateway.Unavailable})
		return nil
	}
	p := audit.ProxiedRequest{TenantID: d.Workspace.TenantID(), Method: r.Method, Host: r.Host,
		Path: r.URL.EscapedPath(), Rule: au.policy.RuleName(d.Rule),
		Origin: audit.Origin{IP: clientIP(r), UserAgent: r.UserAgent()}, Start: time.Now()}
	if repl != nil {
		p.Origin.RequestID = repl.ReplaceAll("{http.request.uuid}", "")
	}
	if d.Entry != nil {
		p.Actor = audit.Actor{UserID: d.Entry.User.ID, Email: d.Entry.User.Email, SessionID: d.Entry.Session.ID}
	}
	rec := caddyhttp.NewResponseRecorder(w, nil, nil)
	err := next.ServeHTTP(rec, r)
	p.Duration = time.Since(p.Start)
	p.Status = rec.Status()
	var he caddyhttp.HandlerError
	switch {
	case errors.As(err, &he) && rec.Status() == 0:
		p.Status = he.StatusCode
	case err != nil && rec.Status() == 0:
		p.Status = http.StatusInternalServerError
	case p.Status == 0:
		p.Status = http.StatusOK
	}
	au.commit.Enqueue(p.Record())
	return err
}

// denied counts a policy denial towards its actor's, rule's and minute's record.
func (au *auditing) denied(r *http.Request, d gateway.Decision, gw *gateway.Gateway) {
	if d.Outcome != gateway.Deny && d.Outcome != gateway.Forbidden {
		return
	}
	x := audit.Denial{TenantID: d.Workspace.TenantID(), Rule: au.policy.RuleName(d.Rule), Method: r.Method,
		Path: r.URL.EscapedPath(), Permission: d.Verdict.Permission, Reason: d.Verdict.Reason,
		Origin: audit.Origin{IP: clientIP(r), UserAgent: r.UserAgent(), RequestID: requestID(r)}}
	if d.Outcome == gateway.Deny {
		x.Reason = "the route is denied"
	}
	// A denied route is refused before the session is read; the record still names
	// a signed-in user (a scanner without a session costs no lookup).
	if e := gw.Identify(r, d); e != nil {
		x.Actor = audit.Actor{UserID: e.User.ID, Email: e.User.Email, SessionID: e.Session.ID}
	}
	au.denials.Add(x)
}
