package audit

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Trails opens a tenant's trail by id (a store.Store is one).
type Trails interface {
	Tenant(id string) store.TenantHandle
}

// Committer writes records that must not slow the request path — proxied writes and
// aggregated policy denials — by group commit: Enqueue hands a record over without
// waiting, and one goroutine appends whatever has queued up in one transaction per
// tenant (one fsync for the lot).
//
// Nothing handed over is dropped silently. When the queue is full, Enqueue writes the
// record to the local spool itself. When the store fails, the batch goes to the spool
// and every later record follows it there, so that the order holds; the spool is
// replayed into the store, oldest first, as soon as the store answers again. When the
// spool reaches its cap, Saturated says so and the gateway refuses audited requests
// (503) until the store is back. A record is acknowledged once it is in the store or
// fsynced in the spool; a kill -9 loses only the records still in the in-memory queue
// (milliseconds' worth; Stop drains it).
type Committer struct {
	Trails Trails
	Spool  *Spool
	Logger *zap.Logger
	// Prepare, when set, completes each record just before it is appended (the
	// personal-field digest of the chain).
	Prepare func(store.AuditRecord) store.AuditRecord
	// Hash is the chain hash (default Hash).
	Hash func(store.AuditRecord) []byte
	// QueueSize bounds the in-memory queue (default 8192); MaxBatch the records per
	// commit (default 1024).
	QueueSize, MaxBatch int
	// RetryMin and RetryMax bound the back-off between replays while the store fails
	// (defaults 250ms and 10s).
	RetryMin, RetryMax time.Duration

	q        chan store.AuditRecord
	kick     chan struct{}
	flushReq chan chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc

	mu     sync.RWMutex // Enqueue holds it shared; Stop exclusively, to close
	closed bool

	dedupe    bool // the spool had records at start: the first replay skips what is stored
	committed atomic.Uint64
	spooled   atomic.Uint64
	lost      atomic.Uint64
	down      atomic.Bool
	alarmed   atomic.Bool
}

// Start starts the committing goroutine.
func (c *Committer) Start() {
	if c.QueueSize <= 0 {
		c.QueueSize = 8192
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1024
	}
	if c.RetryMin <= 0 {
		c.RetryMin = 250 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(10*time.Second, c.RetryMin)
	}
	if c.Hash == nil {
		c.Hash = Hash
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	c.q = make(chan store.AuditRecord, c.QueueSize)
	c.kick = make(chan struct{}, 1)
	c.flushReq = make(chan chan struct{})
	c.done = make(chan struct{})
	if n, _ := c.Spool.Pending(); n > 0 {
		c.dedupe = true
		c.Logger.Warn("audit spool holds records from an earlier run: replaying them into the store", zap.Int64("records", n))
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.loop(ctx)
}

// Enqueue hands r (TenantID and Time set) over for group commit without waiting for
// the store. After Stop, it spools r directly.
func (c *Committer) Enqueue(r store.AuditRecord) {
	c.mu.RLock()
	if !c.closed {
		select {
		case c.q <- r:
			c.mu.RUnlock()
			return
		default: // the queue is full
		}
	}
	c.mu.RUnlock()
	c.toSpool([]store.AuditRecord{r})
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Saturated reports that the spool reached its cap: a record handed over now might
// not be kept, so audited requests must be refused.
func (c *Committer) Saturated() bool { return c.Spool.Full() }

// Flush waits until every record enqueued before the call is in the store or the
// spool, and tries to replay the spool once.
func (c *Committer) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case c.flushReq <- ack:
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop drains the queue into the store (or the spool) and ends the goroutine; records
// enqueued afterwards go to the spool. It waits at most until ctx ends.
func (c *Committer) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping the audit committer: %w", ctx.Err())
	}
}

// CommitterStats are the committer's gauges and counters (metrics).
type CommitterStats struct {
	Queued                 int   // records waiting in memory
	SpoolRecords, SpoolLen int64 // records and bytes waiting in the spool
	SpoolMax               int64 // its cap (0: none)
	Committed, Spooled     uint64
	Lost                   uint64 // records neither stored nor spooled (the disk failed)
	StoreDown              bool
}

// Stats returns the current figures.
func (c *Committer) Stats() CommitterStats {
	n, b := c.Spool.Pending()
	return CommitterStats{Queued: len(c.q), SpoolRecords: n, SpoolLen: b, SpoolMax: c.Spool.Max(),
		Committed: c.committed.Load(), Spooled: c.spooled.Load(), Lost: c.lost.Load(), StoreDown: c.down.Load()}
}

func (c *Committer) loop(ctx context.Context) {
	defer close(c.done)
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	armed := false // the retry timer runs
	backoff := c.RetryMin
	batch := make([]store.AuditRecord, 0, c.MaxBatch)
	// Store operations get their own deadline: the loop's context ends at Stop, and
	// what is in hand then must still be stored.
	op := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 30*time.Second)
	}
	commit := func(batch []store.AuditRecord) {
		ctx, cancel := op()
		defer cancel()
		c.commit(ctx, batch)
	}
	replayNow := func() {
		ctx, cancel := op()
		defer cancel()
		retry.Stop() // Go 1.23 timers: no stale tick can be received after Stop
		armed = false
		if c.replay(ctx) {
			backoff = c.RetryMin
			return
		}
		retry.Reset(backoff)
		armed = true
		backoff = min(2*backoff, c.RetryMax)
	}
	// afterCommit replays spooled records at once while the store answers; while it
	// does not, the retry timer does.
	afterCommit := func() {
		if n, _ := c.Spool.Pending(); n == 0 {
			return
		}
		if !c.down.Load() {
			replayNow()
		} else if !armed {
			retry.Reset(backoff)
			armed = true
		}
	}
	afterCommit()
	for {
		select {
		case r := <-c.q:
			batch = c.fill(append(batch[:0], r))
			commit(batch)
			afterCommit()
		case <-c.kick:
			afterCommit()
		case <-retry.C:
			armed = false
			replayNow()
		case ack := <-c.flushReq:
			for len(c.q) > 0 {
				batch = c.fill(batch[:0])
				commit(batch)
			}
			replayNow()
			close(ack)
		case <-ctx.Done():
			// Drain what was enqueued (Stop waits; records after it go to the spool).
			for len(c.q) > 0 {
				batch = c.fill(batch[:0])
				commit(batch)
			}
			return
		}
	}
}

// fill takes queued records into batch up to MaxBatch, without waiting.
func (c *Committer) fill(batch []store.AuditRecord) []store.AuditRecord {
	for len(batch) < c.MaxBatch {
		select {
		case r := <-c.q:
			batch = append(batch, r)
		default:
			return batch
		}
	}
	return batch
}

// commit stores batch, or spools it when the spool already holds records (they come
// first) or the store fails.
func (c *Committer) commit(ctx context.Context, batch []store.AuditRecord) {
	if n, _ := c.Spool.Pending(); n > 0 {
		c.toSpool(batch)
		return
	}
	stored, err := c.store(ctx, batch)
	if err != nil {
		c.storeFailed(err)
		c.toSpool(batch[stored:])
	}
}

// store appends recs run by run (a run: consecutive records of one tenant, one
// transaction each) and returns how many leading records are stored.
func (c *Committer) store(ctx context.Context, recs []store.AuditRecord) (int, error) {
	done := 0
	for done < len(recs) {
		end := done + 1
		for end < len(recs) && recs[end].TenantID == recs[done].TenantID {
			end++
		}
		run := recs[done:end]
		if c.Prepare != nil {
			run = make([]store.AuditRecord, 0, end-done)
			for _, r := range recs[done:end] {
				run = append(run, c.Prepare(r))
			}
		}
		if _, err := c.Trails.Tenant(recs[done].TenantID).Audit().AppendBatch(ctx, run, c.Hash); err != nil {
			return done, err
		}
		c.committed.Add(uint64(end - done))
		done = end
	}
	return done, nil
}

func (c *Committer) toSpool(recs []store.AuditRecord) {
	if len(recs) == 0 {
		return
	}
	if err := c.Spool.Append(recs); err != nil {
		c.lost.Add(uint64(len(recs)))
		c.Logger.Error("AUDIT RECORDS LOST: the store is unreachable and the spool cannot be written",
			zap.Int("records", len(recs)), zap.Error(err))
		return
	}
	c.spooled.Add(uint64(len(recs)))
	n, size := c.Spool.Pending()
	if m := c.Spool.Max(); m > 0 && size >= m*8/10 && c.alarmed.CompareAndSwap(false, true) {
		c.Logger.Error("audit spool nearly full: audited requests will be refused (503) when it is full, until the store is back",
			zap.Int64("bytes", size), zap.Int64("max", m), zap.Int64("records", n))
	}
}

func (c *Committer) storeFailed(err error) {
	if c.down.CompareAndSwap(false, true) {
		c.Logger.Warn("audit store unreachable: records go to the local spool and are replayed when it returns", zap.Error(err))
	}
}

// replay moves spooled records into the store, oldest first, and reports whether the
// spool is empty.
func (c *Committer) replay(ctx context.Context) bool {
	for {
		entries, err := c.Spool.Next(c.MaxBatch)
		if err != nil {
			c.Logger.Error("reading the audit spool", zap.Error(err))
			return false
		}
		if len(entries) == 0 {
			if c.down.CompareAndSwap(true, false) {
				c.Logger.Info("audit store reachable again: the spool is replayed")
			}
			c.alarmed.Store(false)
			return true
		}
		recs := make([]store.AuditRecord, len(entries))
		for i, e := range entries {
			recs[i] = e.Record
		}
		if c.dedupe {
			if recs, err = c.unstored(ctx, recs); err != nil {
				c.storeFailed(err)
				return false
			}
		}
		stored, err := c.store(ctx, recs)
		if stored == len(recs) {
			err = nil
		}
		// Advance past the stored records (and the skipped ones before them).
		if k := c.advanceCount(entries, recs, stored); k > 0 {
			if aerr := c.Spool.Advance(entries[k-1].End, k); aerr != nil {
				c.Logger.Error("recording the audit spool replay position", zap.Error(aerr))
				return false
			}
		}
		if err != nil {
			c.storeFailed(err)
			return false
		}
		c.dedupe = false
	}
}

// advanceCount returns how many leading entries are done when the first stored of
// recs (a subsequence of entries, in order) were stored.
func (c *Committer) advanceCount(entries []SpoolEntry, recs []store.AuditRecord, stored int) int {
	if stored == len(recs) {
		return len(entries)
	}
	// The first unstored record: every entry before it is done.
	next := recs[stored]
	for i, e := range entries {
		if recordKey(e.Record) == recordKey(next) {
			return i
		}
	}
	return 0
}

// unstored drops the records a crash may already have stored: one that stopped after
// a replay committed and before the spool recorded it. Such records are among each
// tenant's newest.
func (c *Committer) unstored(ctx context.Context, recs []store.AuditRecord) ([]store.AuditRecord, error) {
	seen := map[string]bool{}
	looked := map[string]bool{}
	for _, r := range recs {
		if looked[r.TenantID] {
			continue
		}
		looked[r.TenantID] = true
		newest, err := c.Trails.Tenant(r.TenantID).Audit().SearchAudit(ctx, store.AuditQuery{Limit: store.MaxAuditSearch})
		if err != nil {
			return nil, err
		}
		for _, s := range newest {
			seen[recordKey(s)] = true
		}
	}
	out := recs[:0:0]
	for _, r := range recs {
		if !seen[recordKey(r)] {
			out = append(out, r)
		}
	}
	return out, nil
}

// recordKey identifies a record across the spool and the store.
func recordKey(r store.AuditRecord) string {
	return r.TenantID + "\x00" + r.Action + "\x00" + r.RequestID + "\x00" + r.ActorID + "\x00" + r.Target + "\x00" +
		strconv.FormatInt(r.Time.UnixNano(), 10)
}
