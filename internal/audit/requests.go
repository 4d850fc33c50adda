package audit

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ProxiedRequest is what the gateway knows of a proxied request once the upstream
// has answered.
type ProxiedRequest struct {
	TenantID           string
	Actor              Actor // empty for an anonymous request on a public route
	Origin             Origin
	Method, Host, Path string // the path as sent, without the query (which may carry secrets)
	Rule               string // the name of the route rule that allowed it
	Status             int    // the upstream's status; 0 when Gatehouse does not see it (forward auth)
	Start              time.Time
	Duration           time.Duration
	// Via is ViaForwardAuth for a request a front proxy asked about and then sent on
	// itself; "" for one Gatehouse proxied.
	Via string
}

// ViaForwardAuth marks a proxied-request record of forward auth: the decision was
// Gatehouse's, the proxying (and so the status and duration) the front proxy's.
const ViaForwardAuth = "forward_auth"

// Record is the audit record of p: action proxy.request, the path as target, the
// outcome by status (success below 400; denied for 401 and 403; failure otherwise).
func (p ProxiedRequest) Record() store.AuditRecord {
	outcome := Success
	switch {
	case p.Status == 401 || p.Status == 403:
		outcome = Denied
	case p.Status >= 400:
		outcome = Failure
	}
	r := Event(ActionProxyRequest, outcome, p.Actor, p.Origin)
	r.TenantID, r.Time = p.TenantID, p.Start
	r.Target = Clip(p.Path, 2048)
	r.Details = map[string]string{
		"method": Clip(p.Method, 32), "path": r.Target, "host": Clip(p.Host, 255), "rule": p.Rule,
		"status": strconv.Itoa(p.Status), "duration_ms": strconv.FormatFloat(float64(p.Duration.Microseconds())/1000, 'f', 3, 64),
	}
	if p.Via != "" {
		delete(r.Details, "status")
		delete(r.Details, "duration_ms")
		r.Details["via"] = p.Via
	}
	return r
}

// Denial is one request the policy refused.
type Denial struct {
	TenantID     string
	Actor        Actor // empty when the request was refused before its session was read
	Origin       Origin
	Rule         string
	Method, Path string
	Permission   string // the permission the route needs, when it needs one
	Reason       string
}

// Sink takes records for group commit (a Committer).
type Sink interface {
	Enqueue(store.AuditRecord)
}

// MaxDenialKeys bounds the actors × rules a Denials keeps per minute; past it, further
// denials of a tenant and rule are counted in one record for "many actors".
const MaxDenialKeys = 10_000

// Denials aggregates policy denials so that a scanner cannot flood the trail: one
// record per tenant, actor (the user, or the IP for anonymous requests), rule and
// minute, with the count and the first request's details. Records go to the sink
// when their minute is over (Run checks every few seconds) or at Flush.
type Denials struct {
	Sink  Sink
	Clock clock.Clock

	mu     sync.Mutex
	minute time.Time
	aggs   map[denialKey]*denialAgg
	order  []denialKey // first-seen order, so records come out in it
}

type denialKey struct{ tenant, actor, rule string }

type denialAgg struct {
	first Denial
	at    time.Time
	count int
	many  bool
}

// Add counts x.
func (d *Denials) Add(x Denial) {
	now := d.Clock.Now()
	minute := now.Truncate(time.Minute)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !minute.Equal(d.minute) {
		d.flushLocked()
		d.minute = minute
	}
	if d.aggs == nil {
		d.aggs = map[denialKey]*denialAgg{}
	}
	actor := "user:" + x.Actor.UserID
	if x.Actor.UserID == "" {
		actor = "ip:" + x.Origin.IP
	}
	k := denialKey{x.TenantID, actor, x.Rule}
	a := d.aggs[k]
	if a == nil && len(d.aggs) >= MaxDenialKeys {
		k = denialKey{x.TenantID, "*", x.Rule}
		a = d.aggs[k]
		if a == nil {
			x.Actor, x.Origin = Actor{}, Origin{}
			a = &denialAgg{first: x, at: now, many: true}
			d.aggs[k] = a
			d.order = append(d.order, k)
		}
	} else if a == nil {
		a = &denialAgg{first: x, at: now}
		d.aggs[k] = a
		d.order = append(d.order, k)
	}
	a.count++
}

// FlushDue hands over the records of minutes that are over.
func (d *Denials) FlushDue() {
	minute := d.Clock.Now().Truncate(time.Minute)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.minute.Before(minute) {
		d.flushLocked()
	}
}

// Flush hands over every record, the current minute's too (at shutdown).
func (d *Denials) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked()
}

func (d *Denials) flushLocked() {
	for _, k := range d.order {
		d.Sink.Enqueue(d.aggs[k].record(d.minute))
	}
	clear(d.aggs)
	d.order = d.order[:0]
}

func (a *denialAgg) record(minute time.Time) store.AuditRecord {
	x := a.first
	r := Event(ActionPolicyDenied, Denied, x.Actor, x.Origin)
	r.TenantID, r.Time, r.Target = x.TenantID, a.at, Clip(x.Path, 2048)
	r.Details = map[string]string{
		"rule": x.Rule, "count": strconv.Itoa(a.count), "minute": minute.UTC().Format(time.RFC3339),
		"method": Clip(x.Method, 32), "path": r.Target,
	}
	if x.Permission != "" {
		r.Details["permission"] = x.Permission
	}
	if x.Reason != "" {
		r.Details["reason"] = x.Reason
	}
	if a.many {
		r.Details["actors"] = "many (more than " + strconv.Itoa(MaxDenialKeys) + " actors and rules in this minute)"
	}
	return r
}

// Run flushes finished minutes every few seconds until ctx ends, then flushes all.
func (d *Denials) Run(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			d.FlushDue()
		case <-ctx.Done():
			d.Flush()
			return
		}
	}
}
