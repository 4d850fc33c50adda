package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CutFormat names the signed message of an expiry cut.
const CutFormat = "gatehouse-audit-cut-v1"

// Cut is a signed statement that records 1 to Seq of tenant Tenant's audit trail
// expired under the retention policy, record Seq having hash Hash. Verification of a
// trail that starts at record Seq+1 resumes from it.
//
// It is signed apart from checkpoints, over another message, so that an ordinary
// checkpoint cannot be passed off as leave to remove the records before it: whoever
// deletes records up to a checkpoint behind the gateway's back (and forges an
// unsigned cut row) still breaks verification.
type Cut struct {
	Tenant    string // tenant id
	Seq       int64  // the last expired record
	Hash      []byte
	Time      time.Time // when it was signed
	KeyID     string
	Signature []byte // Ed25519 over Message()
}

// Message is the signed byte string: CutFormat followed by the message a checkpoint
// of the same fields would sign (Checkpoint.Message). The two formats start
// differently, so neither signature can stand for the other.
func (c Cut) Message() []byte {
	cp := Checkpoint{Tenant: c.Tenant, Seq: c.Seq, Hash: c.Hash, Time: c.Time, KeyID: c.KeyID}
	return append([]byte(CutFormat), cp.Message()...)
}

// Sign sets c's KeyID and Signature with s's key.
func (c *Cut) Sign(s *Signer) {
	c.KeyID = s.KeyID
	c.Signature = ed25519.Sign(s.priv, c.Message())
}

// Verify checks c's signature with pub, and that pub is the key c names.
func (c Cut) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("not an Ed25519 public key")
	}
	if KeyIDOf(pub) != c.KeyID {
		return fmt.Errorf("the cut names key %s, not the key %s given to verify it", c.KeyID, KeyIDOf(pub))
	}
	if !ed25519.Verify(pub, c.Message(), c.Signature) {
		return errors.New("the cut's signature does not verify")
	}
	return nil
}

// Stored is c as the store keeps it (the tenant is the handle's).
func (c Cut) Stored() store.AuditCut {
	return store.AuditCut{Seq: c.Seq, Hash: c.Hash, Time: c.Time, KeyID: c.KeyID, Signature: c.Signature}
}

// CutOf is a stored cut of tenant.
func CutOf(tenant string, s store.AuditCut) Cut {
	return Cut{Tenant: tenant, Seq: s.Seq, Hash: s.Hash, Time: s.Time, KeyID: s.KeyID, Signature: s.Signature}
}

// Chain is a tenant's trail as verification reads it: the records, the expiry cuts
// that removed the oldest of them, and the deployment's audit keys that signed the
// cuts. With Cuts or Keys nil no cut is trusted: a trail that no longer starts at
// record 1 is then a break.
type Chain struct {
	Tenant string // tenant id (cuts sign it)
	Audit  store.AuditStore
	Cuts   store.AuditCutStore
	Keys   store.AuditKeyStore
	// Digester, when set, also checks each version-2 record's personal fields
	// against its keyed digest (Verifier.CheckPersonal); nil skips that check.
	Digester *Digester
}

// ChainOf is th's chain, its cuts checked against the public keys in keys.
func ChainOf(th store.TenantHandle, keys store.AuditKeyStore) Chain {
	return Chain{Tenant: th.TenantID(), Audit: th.Audit(), Cuts: th.AuditCuts(), Keys: keys}
}

// Start is where verification picks a trail up: before record 1 (Seq 0, ZeroHash),
// or at the signed expiry cut the trail now starts after.
type Start struct {
	Seq  int64
	Hash []byte
	Cut  *Cut // nil: the trail starts at record 1
}

// Verified is how far a verification got.
type Verified struct {
	Start             Start         // where it started
	Last              int64         // the last intact record (Start.Seq when none)
	Hash              []byte        // its hash
	CheckpointExpired bool          // VerifyFromCheckpoint: the checkpoint signs an expired record, which could not be compared
	Personal          PersonalCheck // what the personal-field checks found (Chain.Digester)
}

// Count is the number of records verified intact.
func (v Verified) Count() int64 { return v.Last - v.Start.Seq }

// maxBadCuts bounds how many cut rows that do not verify Start passes over on its
// way down to a valid one (each is a forgery; the first is named).
const maxBadCuts = 64

// Start finds where c's trail begins. A trail that starts at record 1 starts there
// (whatever cuts exist); one that starts later must start right after a cut whose
// signature verifies with the stored key it names, otherwise the missing records are
// a break (Removed, from the record after the last valid cut). An empty trail with a
// valid cut is a break too: the record after a cut never expires with it. Cut rows
// that do not verify (forged in the database) vouch for nothing.
func (c Chain) Start(ctx context.Context) (Start, error) {
	zero := Start{Hash: ZeroHash}
	first, err := c.Audit.ListAudit(ctx, 0, 1)
	if err != nil {
		return zero, fmt.Errorf("reading the first audit record: %w", err)
	}
	if len(first) == 1 && first[0].Seq <= 1 {
		return zero, nil // from record 1 (the Verifier reports a seq below 1)
	}
	missing := int64(math.MaxInt64) // the last missing record (none known for an empty trail)
	if len(first) == 1 {
		missing = first[0].Seq - 1
	}
	cut, forged, err := c.lastValidCut(ctx, missing)
	if err != nil {
		return zero, err
	}
	if forged != "" {
		forged = "; " + forged
	}
	switch {
	case cut == nil && len(first) == 0:
		if forged != "" {
			return zero, &VerifyError{Seq: 1, Kind: Removed, Reason: "the trail is empty and no valid expiry cut covers its records" + forged}
		}
		return zero, nil // an empty trail, never cut
	case cut == nil:
		return zero, &VerifyError{Seq: 1, Kind: Removed, Reason: fmt.Sprintf(
			"the trail starts at record %d: records 1 to %d are missing and no signed expiry cut covers them%s", missing+1, missing, forged)}
	}
	when := cut.Time.UTC().Format(time.RFC3339)
	switch {
	case len(first) == 0:
		return zero, &VerifyError{Seq: cut.Seq + 1, Kind: Removed, Reason: fmt.Sprintf(
			"the trail is empty, but the expiry cut of %s at record %d kept the records after it: they were removed%s", when, cut.Seq, forged)}
	case cut.Seq < missing:
		return zero, &VerifyError{Seq: cut.Seq + 1, Kind: Removed, Reason: fmt.Sprintf(
			"records %d to %d are missing: the last signed expiry cut (%s) covers records up to %d only%s", cut.Seq+1, missing, when, cut.Seq, forged)}
	}
	return Start{Seq: cut.Seq, Hash: cut.Hash, Cut: cut}, nil
}

// lastValidCut returns the cut with the highest Seq <= atMost whose signature
// verifies (nil when there is none), passing over rows that do not verify; forged
// names the first of those ("" when none).
func (c Chain) lastValidCut(ctx context.Context, atMost int64) (*Cut, string, error) {
	if c.Cuts == nil || c.Keys == nil {
		return nil, "", nil
	}
	forged := ""
	for range maxBadCuts {
		sc, err := c.Cuts.LastCut(ctx, atMost)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, forged, nil
		case err != nil:
			return nil, "", fmt.Errorf("reading the audit expiry cuts: %w", err)
		}
		cut := CutOf(c.Tenant, sc)
		err = c.checkCut(ctx, cut)
		if err == nil {
			return &cut, forged, nil
		}
		if forged == "" {
			forged = fmt.Sprintf("the cut row at record %d vouches for nothing: %v", cut.Seq, err)
		}
		if atMost = cut.Seq - 1; atMost < 1 {
			return nil, forged, nil
		}
	}
	return nil, forged, nil
}

// checkCut verifies a cut's signature with the stored public key it names.
func (c Chain) checkCut(ctx context.Context, cut Cut) error {
	pub, err := StoredPublicKey(ctx, c.Keys, cut.KeyID)
	if err != nil {
		return err
	}
	return cut.Verify(pub)
}

// StoredPublicKey returns the public half of the stored audit key kid (ErrNotFound,
// wrapped, when the store does not hold it).
func StoredPublicKey(ctx context.Context, ks store.AuditKeyStore, kid string) (ed25519.PublicKey, error) {
	keys, err := ks.ListAuditKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading audit keys: %w", err)
	}
	for _, k := range keys {
		if k.KID == kid {
			return ed25519.PublicKey(k.PublicKey), nil
		}
	}
	return nil, fmt.Errorf("audit key %s: %w", kid, store.ErrNotFound)
}

// VerifyThrough verifies c's trail from its Start through record upTo (0: to the
// end) in pages of size page, so memory stays flat. It returns how far it got and
// the first break as a *VerifyError; a trail that ends before upTo is a break
// (Removed).
func (c Chain) VerifyThrough(ctx context.Context, upTo int64, page int) (Verified, error) {
	s, err := c.Start(ctx)
	if err != nil {
		return Verified{Start: s, Last: s.Seq, Hash: s.Hash}, err
	}
	return c.walk(ctx, s, upTo, page)
}

// walk verifies the records after s through upTo (0: to the end).
func (c Chain) walk(ctx context.Context, s Start, upTo int64, page int) (Verified, error) {
	if page < 1 {
		page = 1000
	}
	v := ResumeVerifier(s.Seq, s.Hash).CheckPersonal(c.Digester)
	done := func(err error) (Verified, error) {
		n, h := v.Last()
		return Verified{Start: s, Last: n, Hash: h, Personal: v.Personal()}, err
	}
	after := s.Seq
	for {
		recs, err := c.Audit.ListAudit(ctx, after, page)
		if err != nil {
			return done(fmt.Errorf("reading the audit trail after record %d: %w", after, err))
		}
		for _, r := range recs {
			if upTo > 0 && r.Seq > upTo {
				if n, _ := v.Last(); n < upTo {
					return done(v.Check(r)) // records up to upTo are missing: Removed
				}
				return done(nil)
			}
			if err := v.Check(r); err != nil {
				return done(err)
			}
			after = r.Seq
		}
		if len(recs) < page {
			if n, _ := v.Last(); upTo > 0 && n < upTo {
				return done(&VerifyError{Seq: n + 1, Kind: Removed,
					Reason: fmt.Sprintf("the trail ends at record %d, before record %d", n, upTo)})
			}
			return done(nil)
		}
	}
}

// VerifyFromCheckpoint verifies c's trail against the checkpoint cp (whose signature
// the caller has checked): that its record cp.Seq still has exactly cp.Hash
// (Rewritten otherwise; Removed when the trail no longer reaches it), and the whole
// chain from the trail's Start. When cp signs a record that expired under a later
// cut, its hash can no longer be compared: the trail is verified from the cut and
// the result says CheckpointExpired. A checkpoint at the cut itself is compared with the cut.
func (c Chain) VerifyFromCheckpoint(ctx context.Context, cp Checkpoint, page int) (Verified, error) {
	s, err := c.Start(ctx)
	if err != nil {
		return Verified{Start: s, Last: s.Seq, Hash: s.Hash}, err
	}
	if cp.Seq < s.Seq {
		v, err := c.walk(ctx, s, 0, page)
		v.CheckpointExpired = true
		return v, err
	}
	v, err := c.walk(ctx, s, cp.Seq, page)
	var ve *VerifyError
	switch {
	case errors.As(err, &ve) && ve.Kind == Removed && ve.Seq == v.Last+1 && v.Last < cp.Seq && trailEndsAt(ctx, c.Audit, v.Last):
		return v, &VerifyError{Seq: v.Last + 1, Kind: Removed, Reason: fmt.Sprintf(
			"records cut off after %d: the checkpoint of %s signs record %d, which the trail no longer reaches", v.Last, cp.Time.UTC().Format(time.RFC3339), cp.Seq)}
	case err != nil:
		return v, err
	}
	if !bytes.Equal(v.Hash, cp.Hash) {
		return v, &VerifyError{Seq: cp.Seq, Kind: Rewritten, Reason: fmt.Sprintf(
			"its hash is %x but the checkpoint of %s signed %x: the trail was rewritten (with recomputed hashes) at or before record %d",
			v.Hash, cp.Time.UTC().Format(time.RFC3339), cp.Hash, cp.Seq)}
	}
	rest, err := c.walk(ctx, Start{Seq: cp.Seq, Hash: cp.Hash}, 0, page)
	rest.Start = s
	return rest, err
}
