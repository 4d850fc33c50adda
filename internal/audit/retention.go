package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionAuditExpired records an expiry: a tenant's records up to a sequence number
// were removed under the retention policy (details: through_seq, count,
// expired_before, key_id of the checkpoint and cut).
const ActionAuditExpired = "audit.expired"

// DefaultExpiryBatch bounds how many records one cut removes (one transaction); a
// tenant with more expired records is cut again straight away.
const DefaultExpiryBatch = 50_000

const (
	expiryLeaseName = "audit-expiry"
	expiryLeaseTTL  = 10 * time.Minute
	expiryPage      = 1000
)

// Expirer removes audit records older than Retention, tenant by tenant, keeping what
// remains verifiable: it verifies the records it is about to remove, makes sure a
// signed checkpoint exists at the last of them (record C), signs a cut at C and
// removes records up to C in one transaction (store.AuditCutStore), then records
// audit.expired in the tenant's trail. Verification then resumes from the cut
// (Chain.Start). The newest record never expires: it carries the chain on.
//
// Of several instances one works at a time (under a lease). A broken chain is never
// cut: the tenant is reported and left as it is.
type Expirer struct {
	Store     store.Store
	Keys      *KeyStore
	Leases    Leaser
	Holder    string
	Retention time.Duration // 0: keep forever (Once does nothing)
	Batch     int           // records per cut (default DefaultExpiryBatch)
	Tick      time.Duration // how often Run looks (default an hour)
	Writer    *Writer       // records audit.expired (default NewWriter(Clock))
	Clock     clock.Clock
	Logger    *zap.Logger
}

// Expiry is what one cut did.
type Expiry struct {
	Cut        Cut        // the signed cut at the last removed record
	Checkpoint Checkpoint // the signed checkpoint at the same record
	Count      int64      // records removed
}

func (e *Expirer) batch() int {
	if e.Batch > 0 {
		return e.Batch
	}
	return DefaultExpiryBatch
}

// Once expires, in every tenant, the records older than Retention and returns how
// many it removed; ran is false when Retention is 0 or another instance holds the
// lease.
func (e *Expirer) Once(ctx context.Context) (ran bool, removed int64, err error) {
	if e.Retention <= 0 {
		return false, 0, nil
	}
	now := e.Clock.Now()
	before := now.Add(-e.Retention)
	if ok, err := e.Leases.AcquireLease(ctx, expiryLeaseName, e.Holder, expiryLeaseTTL, now); err != nil || !ok {
		return false, 0, err
	}
	tenants, err := e.Store.Tenants().ListTenants(ctx)
	if err != nil {
		return true, 0, fmt.Errorf("listing tenants: %w", err)
	}
	var errs []error
	for _, tn := range tenants {
		th := e.Store.Tenant(tn.ID)
		for {
			x, more, err := e.expireTenant(ctx, th, tn.Slug, before, now)
			removed += x.Count
			if err != nil {
				errs = append(errs, fmt.Errorf("tenant %s: %w", tn.Slug, err))
				break
			}
			if !more {
				break
			}
			// A long run keeps its lease (renewed; lost only if it expired meanwhile).
			if ok, err := e.Leases.AcquireLease(ctx, expiryLeaseName, e.Holder, expiryLeaseTTL, e.Clock.Now()); err != nil || !ok {
				return true, removed, errors.Join(append(errs, err)...)
			}
		}
	}
	return true, removed, errors.Join(errs...)
}

// expireTenant makes one cut in th's trail: at the newest record of the first Batch
// that are all older than before (never at the newest record). more tells that the
// batch was full and more records may have expired.
func (e *Expirer) expireTenant(ctx context.Context, th store.TenantHandle, slug string, before, now time.Time) (Expiry, bool, error) {
	chain := ChainOf(th, e.Store.AuditKeys())
	start, err := chain.Start(ctx)
	if err != nil {
		return Expiry{}, false, fmt.Errorf("not expiring records of a broken trail: %w", err)
	}
	seq, hash, more, err := e.lastExpired(ctx, th.Audit(), start, before)
	if err != nil || seq == start.Seq {
		return Expiry{}, false, err
	}
	signer, err := e.Keys.Ensure(ctx)
	if err != nil {
		return Expiry{}, false, err
	}
	cp, err := ensureCheckpoint(ctx, signer, th, seq, hash, now)
	if err != nil {
		return Expiry{}, false, err
	}
	cut := Cut{Tenant: th.TenantID(), Seq: seq, Hash: hash, Time: now.UTC()}
	cut.Sign(signer)
	n, err := th.AuditCuts().ExpireAudit(ctx, cut.Stored())
	if err != nil {
		return Expiry{}, false, fmt.Errorf("expiring records %d to %d: %w", start.Seq+1, seq, err)
	}
	x := Expiry{Cut: cut, Checkpoint: cp, Count: n}
	w := e.Writer
	if w == nil {
		w = NewWriter(e.Clock)
	}
	rec := Event(ActionAuditExpired, Success, System, Origin{})
	rec.Target = "tenant:" + slug
	rec.Details = map[string]string{"through_seq": strconv.FormatInt(seq, 10), "count": strconv.FormatInt(n, 10),
		"expired_before": before.UTC().Format(time.RFC3339), "key_id": cut.KeyID}
	if err := w.Record(ctx, th, rec); err != nil {
		return x, false, fmt.Errorf("records %d to %d expired, but %w", start.Seq+1, seq, err)
	}
	return x, more, nil
}

// lastExpired verifies the records after start that are older than before, at most
// Batch of them, and returns the last one that may go (start.Seq when none may) with
// its hash: not the newest record of the trail. A break is returned as such.
func (e *Expirer) lastExpired(ctx context.Context, as store.AuditStore, start Start, before time.Time) (int64, []byte, bool, error) {
	v := ResumeVerifier(start.Seq, start.Hash)
	prevSeq, prevHash := start.Seq, start.Hash // the record before the last one checked
	after, n := start.Seq, 0
	for {
		recs, err := as.ListAudit(ctx, after, expiryPage)
		if err != nil {
			return 0, nil, false, fmt.Errorf("reading the audit trail after record %d: %w", after, err)
		}
		for _, r := range recs {
			if !r.Time.Before(before) || n == e.batch() {
				// r stays and follows the last record checked, which may go.
				seq, hash := v.Last()
				return seq, hash, n == e.batch(), nil
			}
			prevSeq, prevHash = v.Last()
			if err := v.Check(r); err != nil {
				return 0, nil, false, fmt.Errorf("not expiring records of a broken trail: %w", err)
			}
			after, n = r.Seq, n+1
		}
		if len(recs) < expiryPage {
			// Every record left is old: all but the newest may go.
			return prevSeq, prevHash, false, nil
		}
	}
}

// ensureCheckpoint returns the signed checkpoint of record seq, whose verified hash is
// hash, signing and storing one with s when the tenant has none. A stored checkpoint
// of another hash is a Rewritten break.
func ensureCheckpoint(ctx context.Context, s *Signer, th store.TenantHandle, seq int64, hash []byte, now time.Time) (Checkpoint, error) {
	list, err := th.Checkpoints().ListCheckpoints(ctx, seq-1, 1)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("reading the checkpoints: %w", err)
	}
	if len(list) == 1 && list[0].Seq == seq {
		if !bytes.Equal(list[0].Hash, hash) {
			return Checkpoint{}, &VerifyError{Seq: seq, Kind: Rewritten, Reason: fmt.Sprintf(
				"the stored checkpoint of record %d signs another hash than the record has", seq)}
		}
		return CheckpointOf(th.TenantID(), list[0]), nil
	}
	c := Checkpoint{Tenant: th.TenantID(), Seq: seq, Hash: hash, Time: now.UTC()}
	c.Sign(s.priv)
	if err := th.Checkpoints().AddCheckpoint(ctx, c.Stored()); err != nil {
		return Checkpoint{}, fmt.Errorf("storing the checkpoint of record %d: %w", seq, err)
	}
	return c, nil
}

// Run expires every Tick until ctx ends (at once first); with Retention 0 it
// returns at once.
func (e *Expirer) Run(ctx context.Context) {
	if e.Retention <= 0 {
		return
	}
	log := orNop(e.Logger)
	every(ctx, cmpOr(e.Tick, time.Hour), func(ctx context.Context) {
		if ran, n, err := e.Once(ctx); err != nil {
			log.Error("audit expiry", zap.Error(err))
		} else if ran && n > 0 {
			log.Info("audit records expired", zap.Int64("records", n), zap.Duration("retention", e.Retention))
		}
	})
}
