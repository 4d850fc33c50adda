package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Checkpoint cadence defaults: a tenant's trail is checkpointed when this many
// records, or this much time, passed since its last checkpoint (and it has new
// records).
const (
	DefaultCheckpointEvery    = 1000
	DefaultCheckpointInterval = 60 * time.Minute
)

// Leaser grants named leases across instances (store.Maintenance).
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
}

const (
	keyLeaseName        = "audit-key"
	checkpointLeaseName = "audit-checkpoints"
)

// ErrNoAuditKey: the store holds no audit key this instance can open.
var ErrNoAuditKey = errors.New("no audit key this instance can open")

// Signer is the deployment's audit key, opened.
type Signer struct {
	KeyID  string
	Public ed25519.PublicKey
	priv   ed25519.PrivateKey
}

// KeyStore keeps the deployment's Ed25519 audit key: one per deployment, its private
// half sealed with the master key (associated data naming the kid), created by one
// instance under a lease when there is none.
type KeyStore struct {
	Store  store.AuditKeyStore
	Leases Leaser
	Cipher *secret.FieldCipher
	Holder string
	Clock  clock.Clock
}

// KeySealAD is the associated data an audit key is sealed with: its kid.
func KeySealAD(kid string) []byte { return secret.AD("audit-key", kid) }

// Load returns the newest stored key this instance can open (ErrNoAuditKey when
// none).
func (k *KeyStore) Load(ctx context.Context) (*Signer, error) {
	keys, err := k.Store.ListAuditKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading audit keys: %w", err)
	}
	var errs []error
	for i := len(keys) - 1; i >= 0; i-- {
		s, err := k.open(keys[i])
		if err == nil {
			return s, nil
		}
		errs = append(errs, fmt.Errorf("audit key %s: %w", keys[i].KID, err))
	}
	return nil, errors.Join(append([]error{ErrNoAuditKey}, errs...)...)
}

func (k *KeyStore) open(s store.AuditKey) (*Signer, error) {
	if k.Cipher == nil {
		return nil, errors.New("no master key here")
	}
	seed, err := k.Cipher.Open(s.PrivateKey, s.SealKeyID, KeySealAD(s.KID))
	if err != nil {
		return nil, err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("not an Ed25519 seed")
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if KeyIDOf(pub) != s.KID || !pub.Equal(ed25519.PublicKey(s.PublicKey)) {
		return nil, errors.New("the private key does not match the stored public key")
	}
	return &Signer{KeyID: s.KID, Public: pub, priv: priv}, nil
}

// Ensure returns the key to sign with, creating it (of several instances one, under
// the lease; the others wait for it) when the store has none this instance can open.
func (k *KeyStore) Ensure(ctx context.Context) (*Signer, error) {
	for deadline := time.Now().Add(15 * time.Second); ; {
		s, err := k.Load(ctx)
		if !errors.Is(err, ErrNoAuditKey) {
			return s, err
		}
		ok, err := k.Leases.AcquireLease(ctx, keyLeaseName, k.Holder, time.Minute, k.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("audit-key lease: %w", err)
		}
		if ok {
			if s, err := k.Load(ctx); !errors.Is(err, ErrNoAuditKey) {
				return s, err
			}
			return k.create(ctx)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w, and another instance holds the %q lease to create one", ErrNoAuditKey, keyLeaseName)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (k *KeyStore) create(ctx context.Context) (*Signer, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating audit key: %w", err)
	}
	kid := KeyIDOf(pub)
	sealed, sealKey := k.Cipher.Seal(priv.Seed(), KeySealAD(kid))
	if err := k.Store.CreateAuditKey(ctx, store.AuditKey{KID: kid, PublicKey: pub, PrivateKey: sealed,
		SealKeyID: sealKey, CreatedAt: k.Clock.Now()}); err != nil {
		return nil, fmt.Errorf("storing audit key: %w", err)
	}
	return &Signer{KeyID: kid, Public: pub, priv: priv}, nil
}

// CheckpointNow signs the current head of t's trail and stores the checkpoint; it
// returns it (ok false when the trail is empty). The records since the tenant's last
// checkpoint are verified first (from its signed hash): a broken chain is not signed
// (the *VerifyError is returned). When a checkpoint of the head exists already, that
// one is returned.
func CheckpointNow(ctx context.Context, s *Signer, t store.TenantHandle, now time.Time) (Checkpoint, bool, error) {
	last, err := t.Checkpoints().LatestCheckpoint(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		last = store.AuditCheckpoint{}
	case err != nil:
		return Checkpoint{}, false, fmt.Errorf("reading the last checkpoint: %w", err)
	}
	seq, hash, err := headAfter(ctx, t.Audit(), last)
	if err != nil || seq == 0 {
		return Checkpoint{}, false, err
	}
	if seq == last.Seq {
		return CheckpointOf(t.TenantID(), last), true, nil
	}
	c := Checkpoint{Tenant: t.TenantID(), Seq: seq, Hash: hash, Time: now.UTC()}
	c.Sign(s.priv)
	if err := t.Checkpoints().AddCheckpoint(ctx, c.Stored()); err != nil {
		if errors.Is(err, store.ErrConflict) { // another instance signed the same head
			return c, true, nil
		}
		return Checkpoint{}, false, fmt.Errorf("storing the checkpoint: %w", err)
	}
	return c, true, nil
}

// headAfter verifies the trail after the checkpoint last (from the start when it is
// zero) and returns its last record's sequence number and hash.
func headAfter(ctx context.Context, as store.AuditStore, last store.AuditCheckpoint) (int64, []byte, error) {
	v := NewVerifier()
	if last.Seq > 0 {
		v = ResumeVerifier(last.Seq, last.Hash)
	}
	after := last.Seq
	for {
		recs, err := as.ListAudit(ctx, after, 1000)
		if err != nil {
			return 0, nil, fmt.Errorf("reading the audit trail: %w", err)
		}
		for _, r := range recs {
			if err := v.Check(r); err != nil {
				return 0, nil, err
			}
			after = r.Seq
		}
		if len(recs) < 1000 {
			n, h := v.Last()
			return n, h, nil
		}
	}
}

// Checkpointer signs every tenant's trail on a cadence: when Every records
// (DefaultCheckpointEvery) or Interval (DefaultCheckpointInterval) passed since the
// tenant's last checkpoint. Of several instances one works at a time (under a lease).
type Checkpointer struct {
	Store    store.Store
	Keys     *KeyStore
	Leases   Leaser
	Holder   string
	Every    int64
	Interval time.Duration
	Tick     time.Duration // how often Run looks (default a minute)
	Clock    clock.Clock
	Logger   *zap.Logger
}

func (c *Checkpointer) every() int64 {
	if c.Every > 0 {
		return c.Every
	}
	return DefaultCheckpointEvery
}

func (c *Checkpointer) interval() time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return DefaultCheckpointInterval
}

// Once checkpoints the tenants that are due and returns how many checkpoints it wrote;
// ran is false when another instance holds the lease.
func (c *Checkpointer) Once(ctx context.Context) (ran bool, written int, err error) {
	now := c.Clock.Now()
	ok, err := c.Leases.AcquireLease(ctx, checkpointLeaseName, c.Holder, 5*time.Minute, now)
	if err != nil || !ok {
		return false, 0, err
	}
	tenants, err := c.Store.Tenants().ListTenants(ctx)
	if err != nil {
		return true, 0, err
	}
	var signer *Signer
	var errs []error
	for _, tn := range tenants {
		th := c.Store.Tenant(tn.ID)
		due, err := c.due(ctx, th, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tn.Slug, err))
			continue
		}
		if !due {
			continue
		}
		if signer == nil {
			if signer, err = c.Keys.Ensure(ctx); err != nil {
				return true, written, err
			}
		}
		if _, _, err := CheckpointNow(ctx, signer, th, now); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tn.Slug, err))
			continue
		}
		written++
	}
	return true, written, errors.Join(errs...)
}

// due: the trail has records after the last checkpoint, and Every of them or
// Interval since it (or there is no checkpoint yet).
func (c *Checkpointer) due(ctx context.Context, th store.TenantHandle, now time.Time) (bool, error) {
	last, err := th.Checkpoints().LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		recs, err := th.Audit().ListAudit(ctx, 0, 1)
		return len(recs) > 0, err
	}
	if err != nil {
		return false, err
	}
	recs, err := th.Audit().ListAudit(ctx, last.Seq+c.every()-1, 1)
	if err != nil || len(recs) > 0 {
		return len(recs) > 0, err
	}
	if now.Sub(last.Time) < c.interval() {
		return false, nil
	}
	recs, err = th.Audit().ListAudit(ctx, last.Seq, 1)
	return len(recs) > 0, err
}

// Run checkpoints every Tick until ctx ends.
func (c *Checkpointer) Run(ctx context.Context) {
	log := orNop(c.Logger)
	every(ctx, cmpOr(c.Tick, time.Minute), func(ctx context.Context) {
		if ran, n, err := c.Once(ctx); err != nil {
			log.Error("audit checkpoints", zap.Error(err))
		} else if ran && n > 0 {
			log.Info("audit checkpoints signed", zap.Int("tenants", n))
		}
	})
}
