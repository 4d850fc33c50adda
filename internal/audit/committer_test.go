package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

// outage wraps a real store: while down, every audit append fails as an unreachable
// store would; while held, appends wait (a slow store).
type outage struct {
	store.Store
	down    atomic.Bool
	hold    chan struct{} // nil: no hold
	appends atomic.Int64
}

func (o *outage) Tenant(id string) store.TenantHandle {
	return outageHandle{TenantHandle: o.Store.Tenant(id), o: o}
}

type outageHandle struct {
	store.TenantHandle
	o *outage
}

func (h outageHandle) Audit() store.AuditStore {
	return outageTrail{AuditStore: h.TenantHandle.Audit(), o: h.o}
}

type outageTrail struct {
	store.AuditStore
	o *outage
}

var errUnreachable = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

func (t outageTrail) AppendBatch(ctx context.Context, rs []store.AuditRecord, hash func(store.AuditRecord) []byte) ([]store.AuditRecord, error) {
	if t.o.hold != nil {
		<-t.o.hold
	}
	if t.o.down.Load() {
		return nil, errUnreachable
	}
	t.o.appends.Add(1)
	return t.AuditStore.AppendBatch(ctx, rs, hash)
}

type committerEnv struct {
	st   *outage
	ws   store.Workspace
	c    *Committer
	path string
}

func newCommitter(t *testing.T, queue int, hold chan struct{}) committerEnv {
	t.Helper()
	real := testdb.Store(t)
	o := &outage{Store: real, hold: hold}
	ws := testdb.Workspace(t, real, "acme")
	path := filepath.Join(t.TempDir(), "audit.spool")
	c := &Committer{Trails: o, Spool: openSpool(t, path, 0), QueueSize: queue, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	c.Start()
	t.Cleanup(func() { c.Stop(context.Background()) })
	return committerEnv{st: o, ws: ws, c: c, path: path}
}

func (e committerEnv) record(i int) store.AuditRecord {
	r := spoolRecord(i)
	r.TenantID = e.ws.Tenant.ID
	return r
}

func flush(t *testing.T, c *Committer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// trailIDs verifies the tenant's chain and returns the request ids of its records.
func trailIDs(t *testing.T, h store.TenantHandle) []string {
	t.Helper()
	if n, err := Verify(t.Context(), h); err != nil {
		t.Fatalf("the chain breaks after %d records: %v", n, err)
	}
	recs, err := h.Audit().ListAudit(t.Context(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.RequestID)
	}
	return ids
}

func wantIDs(from, to int) []string {
	var ids []string
	for i := from; i <= to; i++ {
		ids = append(ids, fmt.Sprintf("req-%d", i))
	}
	return ids
}

// TestCommitterGroupCommits: many records enqueued at once reach the store in a few
// transactions, in order, in an intact chain.
func TestCommitterGroupCommits(t *testing.T) {
	e := newCommitter(t, 8192, nil)
	for i := 1; i <= 3000; i++ {
		e.c.Enqueue(e.record(i))
	}
	flush(t, e.c)
	if got := trailIDs(t, e.ws.TenantHandle); !slices.Equal(got, wantIDs(1, 3000)) {
		t.Fatalf("the trail holds %d records, not req-1..req-3000 in order", len(got))
	}
	if n := e.st.appends.Load(); n > 300 {
		t.Errorf("3000 records took %d transactions: not group-committed", n)
	}
	if s := e.c.Stats(); s.Committed != 3000 || s.Spooled != 0 || s.Lost != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestCommitterSpoolsThroughOutage: while the store is unreachable, records go to the
// spool (nothing lost, nothing stored); when it returns they are replayed, and records
// enqueued meanwhile come after them: the trail is in enqueue order.
func TestCommitterSpoolsThroughOutage(t *testing.T) {
	e := newCommitter(t, 8192, nil)
	e.c.Enqueue(e.record(1))
	flush(t, e.c)
	e.st.down.Store(true)
	for i := 2; i <= 50; i++ {
		e.c.Enqueue(e.record(i))
	}
	flush(t, e.c)
	if s := e.c.Stats(); s.SpoolRecords != 49 || !s.StoreDown {
		t.Fatalf("during the outage: %+v, want 49 records spooled and the store down", s)
	}
	if got := trailIDs(t, e.ws.TenantHandle); len(got) != 1 {
		t.Fatalf("during the outage the trail grew to %d records", len(got))
	}
	e.st.down.Store(false)
	e.c.Enqueue(e.record(51)) // must come after the spooled ones
	// No Flush: the committer's own retry finds the store back.
	deadline := time.Now().Add(20 * time.Second)
	for e.c.Stats().SpoolRecords > 0 || e.c.Stats().Queued > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the spool was not replayed after the store returned: %+v", e.c.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	flush(t, e.c) // record 51 may be in the committer's hands: let it finish
	if got := trailIDs(t, e.ws.TenantHandle); !slices.Equal(got, wantIDs(1, 51)) {
		t.Fatalf("after the outage the trail is %v, want req-1..req-51 in order", got)
	}
	if s := e.c.Stats(); s.SpoolRecords != 0 || s.StoreDown || s.Lost != 0 {
		t.Fatalf("after the outage: %+v", s)
	}
}

// TestCommitterFullQueueSpills: with the store stalled and the queue full, Enqueue
// does not block and loses nothing: the overflow is spooled and stored later.
func TestCommitterFullQueueSpills(t *testing.T) {
	hold := make(chan struct{})
	e := newCommitter(t, 4, hold)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 1; i <= 100; i++ {
			e.c.Enqueue(e.record(i))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Enqueue blocked on a full queue")
	}
	if s := e.c.Stats(); s.SpoolRecords == 0 {
		t.Fatalf("a full queue did not spill to the spool: %+v", s)
	}
	close(hold)
	for e.c.Stats().SpoolRecords > 0 || e.c.Stats().Queued > 0 {
		flush(t, e.c)
	}
	got := trailIDs(t, e.ws.TenantHandle)
	slices.Sort(got)
	want := wantIDs(1, 100)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the trail holds %d records, want all 100", len(got))
	}
}

// TestCommitterReplayAfterCrash: a crash after a replay committed and before the
// spool recorded it leaves records both in the store and in the spool; the next run
// stores each once.
func TestCommitterReplayAfterCrash(t *testing.T) {
	real := testdb.Store(t)
	ws := testdb.Workspace(t, real, "acme")
	e := committerEnv{ws: ws}
	path := filepath.Join(t.TempDir(), "audit.spool")
	s, err := OpenSpool(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.AuditRecord
	for i := 1; i <= 10; i++ {
		recs = append(recs, e.record(i))
	}
	if err := s.Append(recs); err != nil {
		t.Fatal(err)
	}
	// The crashed run had stored the first 6.
	if _, err := ws.Audit().AppendBatch(t.Context(), recs[:6], Hash); err != nil {
		t.Fatal(err)
	}
	s.Close()
	c := &Committer{Trails: real, Spool: openSpool(t, path, 0)}
	c.Start()
	defer c.Stop(context.Background())
	flush(t, c)
	if got := trailIDs(t, ws.TenantHandle); !slices.Equal(got, wantIDs(1, 10)) {
		t.Fatalf("after replay the trail is %v, want req-1..req-10 once each", got)
	}
}

// TestCommitterStopDrains: Stop stores what is still queued; later records go to the
// spool, to be replayed by the next run.
func TestCommitterStopDrains(t *testing.T) {
	e := newCommitter(t, 8192, nil)
	for i := 1; i <= 20; i++ {
		e.c.Enqueue(e.record(i))
	}
	if err := e.c.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := trailIDs(t, e.ws.TenantHandle); !slices.Equal(got, wantIDs(1, 20)) {
		t.Fatalf("after Stop the trail is %v", got)
	}
	e.c.Enqueue(e.record(21))
	if s := e.c.Stats(); s.SpoolRecords != 1 {
		t.Fatalf("a record enqueued after Stop: %+v, want it spooled", s)
	}
}

// TestCommitterConcurrentEnqueue: enqueuing from many goroutines while the store
// comes and goes loses nothing and keeps the chain intact (run with -race).
func TestCommitterConcurrentEnqueue(t *testing.T) {
	e := newCommitter(t, 64, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if i == 50 && g == 0 {
					e.st.down.Store(true)
				}
				if i == 80 && g == 0 {
					e.st.down.Store(false)
				}
				e.c.Enqueue(e.record(g*1000 + i))
			}
		})
	}
	wg.Wait()
	e.st.down.Store(false)
	for e.c.Stats().SpoolRecords > 0 || e.c.Stats().Queued > 0 {
		flush(t, e.c)
	}
	if got := trailIDs(t, e.ws.TenantHandle); len(got) != 800 {
		t.Fatalf("the trail holds %d records, want 800", len(got))
	}
}
