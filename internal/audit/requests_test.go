package audit

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type sinkRecords struct {
	mu   sync.Mutex
	recs []store.AuditRecord
}

func (s *sinkRecords) Enqueue(r store.AuditRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r)
}

func TestProxiedRequestRecord(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p := ProxiedRequest{TenantID: "tn-1", Actor: Actor{UserID: "us-1", Email: "ada@example.test", SessionID: "se-1"},
		Origin: Origin{IP: "198.51.100.7", UserAgent: "curl/8", RequestID: "req-1"}, Method: "PATCH", Host: "crm.example.test",
		Path: "/api/deals/42", Rule: "crm.yaml:12 edit a deal", Status: 204, Start: start, Duration: 1500 * time.Microsecond}
	r := p.Record()
	if r.Action != ActionProxyRequest || r.Outcome != Success || r.Target != "/api/deals/42" || r.ActorID != "us-1" ||
		r.SessionID != "se-1" || r.RequestID != "req-1" || !r.Time.Equal(start) || r.TenantID != "tn-1" {
		t.Fatalf("record %+v", r)
	}
	for k, v := range map[string]string{"method": "PATCH", "status": "204", "rule": "crm.yaml:12 edit a deal", "duration_ms": "1.500", "host": "crm.example.test"} {
		if r.Details[k] != v {
			t.Errorf("details[%s] = %q, want %q", k, r.Details[k], v)
		}
	}
	for status, outcome := range map[int]string{200: Success, 302: Success, 401: Denied, 403: Denied, 404: Failure, 502: Failure} {
		p.Status = status
		if got := p.Record().Outcome; got != outcome {
			t.Errorf("status %d: outcome %s, want %s", status, got, outcome)
		}
	}
}

// TestProxiedRequestViaForwardAuth: a request a front proxy sent on after Gatehouse
// allowed it is recorded as allowed (success), marked as forward auth, without the
// status and duration Gatehouse never saw.
func TestProxiedRequestViaForwardAuth(t *testing.T) {
	p := ProxiedRequest{TenantID: "tn-1", Method: "POST", Host: "app.example.test", Path: "/api/deals", Rule: "rules[2]", Via: ViaForwardAuth}
	r := p.Record()
	if r.Action != ActionProxyRequest || r.Outcome != Success || r.Details["via"] != "forward_auth" || r.Details["method"] != "POST" {
		t.Fatalf("record %+v", r)
	}
	for _, k := range []string{"status", "duration_ms"} {
		if _, ok := r.Details[k]; ok {
			t.Errorf("details[%s] = %q for a status Gatehouse did not see", k, r.Details[k])
		}
	}
}

// TestDenialsAggregate: a scanner's thousands of denials make one record per actor,
// rule and minute, with the count.
func TestDenialsAggregate(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC))
	sink := &sinkRecords{}
	d := &Denials{Sink: sink, Clock: clk}
	scanner := Denial{TenantID: "tn-1", Origin: Origin{IP: "203.0.113.9"}, Rule: "rules[0]", Method: "GET", Path: "/admin", Reason: "the route is denied"}
	for i := range 5000 {
		x := scanner
		x.Path = fmt.Sprintf("/admin/%d", i)
		d.Add(x)
	}
	user := Denial{TenantID: "tn-1", Actor: Actor{UserID: "us-2", Email: "bo@example.test"}, Origin: Origin{IP: "198.51.100.1"},
		Rule: "rules[3]", Method: "DELETE", Path: "/api/deals/1", Permission: "deals:delete", Reason: "no role of the user grants the permission"}
	d.Add(user)
	d.Add(user)
	d.FlushDue() // the minute is not over: nothing yet
	if len(sink.recs) != 0 {
		t.Fatalf("%d records before the minute ended", len(sink.recs))
	}
	clk.Advance(time.Minute)
	d.Add(user) // next minute
	if len(sink.recs) != 2 {
		t.Fatalf("after the minute: %d records, want 2 (scanner, user)", len(sink.recs))
	}
	s, u := sink.recs[0], sink.recs[1]
	if s.Action != ActionPolicyDenied || s.Outcome != Denied || s.IP != "203.0.113.9" || s.ActorID != "" ||
		s.Details["count"] != "5000" || s.Details["minute"] != "2026-12-01T10:00:00Z" || s.Target != "/admin/0" {
		t.Errorf("scanner record %+v", s)
	}
	if u.ActorID != "us-2" || u.Details["count"] != "2" || u.Details["permission"] != "deals:delete" || u.Details["method"] != "DELETE" {
		t.Errorf("user record %+v", u)
	}
	d.Flush()
	if len(sink.recs) != 3 || sink.recs[2].Details["count"] != "1" || sink.recs[2].Details["minute"] != "2026-12-01T10:01:00Z" {
		t.Fatalf("Flush: %d records, last %+v", len(sink.recs), sink.recs[len(sink.recs)-1])
	}
}

// TestDenialsBounded: past MaxDenialKeys actors in a minute (a botnet), further
// denials are still counted, in one record per rule for many actors.
func TestDenialsBounded(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	sink := &sinkRecords{}
	d := &Denials{Sink: sink, Clock: clk}
	for i := range MaxDenialKeys + 500 {
		d.Add(Denial{TenantID: "tn-1", Origin: Origin{IP: fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)}, Rule: "rules[0]", Path: "/x"})
	}
	d.Flush()
	if len(sink.recs) != MaxDenialKeys+1 {
		t.Fatalf("%d records, want %d", len(sink.recs), MaxDenialKeys+1)
	}
	many := sink.recs[len(sink.recs)-1]
	if many.Details["count"] != "500" || many.Details["actors"] == "" || many.IP != "" {
		t.Fatalf("overflow record %+v", many)
	}
}
