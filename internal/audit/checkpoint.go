package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CheckpointFormat names the signed message and the exported file's format.
const CheckpointFormat = "gatehouse-audit-checkpoint-v1"

// Checkpoint is a signed statement that record Seq of tenant Tenant's audit trail has
// hash Hash: since every hash covers all the records before it, it fixes the whole
// trail up to Seq. An auditor who keeps one elsewhere can later tell whether that part
// was rewritten (even with recomputed hashes) or cut off.
type Checkpoint struct {
	Tenant    string // tenant id
	Seq       int64
	Hash      []byte
	Time      time.Time // when it was signed
	KeyID     string
	Signature []byte // Ed25519 over Message()
}

// Message is the canonical byte string that is signed:
//
//	"gatehouse-audit-checkpoint-v1"
//	uint64 len(Tenant) || Tenant
//	uint64 Seq
//	uint64 len(Hash)   || Hash
//	int64  Time as Unix nanoseconds (UTC)
//	uint64 len(KeyID)  || KeyID
//
// every integer big-endian; nothing else (in particular no JSON) is signed.
func (c Checkpoint) Message() []byte {
	var b bytes.Buffer
	var n [8]byte
	field := func(p []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		b.Write(n[:])
		b.Write(p)
	}
	b.WriteString(CheckpointFormat)
	field([]byte(c.Tenant))
	binary.BigEndian.PutUint64(n[:], uint64(c.Seq))
	b.Write(n[:])
	field(c.Hash)
	binary.BigEndian.PutUint64(n[:], uint64(c.Time.UnixNano()))
	b.Write(n[:])
	field([]byte(c.KeyID))
	return b.Bytes()
}

// KeyIDOf is the key id of an Ed25519 public key: base64url (unpadded) of the
// SHA-256 of the raw key.
func KeyIDOf(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// ErrBadSignature: the checkpoint's signature does not verify.
var ErrBadSignature = errors.New("the checkpoint's signature does not verify")

// Sign sets c's KeyID and Signature with priv.
func (c *Checkpoint) Sign(priv ed25519.PrivateKey) {
	c.KeyID = KeyIDOf(priv.Public().(ed25519.PublicKey))
	c.Signature = ed25519.Sign(priv, c.Message())
}

// Verify checks c's signature with pub, and that pub is the key c names.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("not an Ed25519 public key")
	}
	if KeyIDOf(pub) != c.KeyID {
		return fmt.Errorf("the checkpoint names key %s, not the key %s given to verify it", c.KeyID, KeyIDOf(pub))
	}
	if !ed25519.Verify(pub, c.Message(), c.Signature) {
		return ErrBadSignature
	}
	return nil
}

// Stored is c as the store keeps it (the tenant is the handle's).
func (c Checkpoint) Stored() store.AuditCheckpoint {
	return store.AuditCheckpoint{Seq: c.Seq, Hash: c.Hash, Time: c.Time, KeyID: c.KeyID, Signature: c.Signature}
}

// CheckpointOf is a stored checkpoint of tenant.
func CheckpointOf(tenant string, s store.AuditCheckpoint) Checkpoint {
	return Checkpoint{Tenant: tenant, Seq: s.Seq, Hash: s.Hash, Time: s.Time, KeyID: s.KeyID, Signature: s.Signature}
}

// checkpointFile is the exported JSON form. Hash is hex; public key and signature are
// standard base64; the time is RFC 3339 UTC with nanoseconds (exactly the signed
// value). TenantSlug is informative only: it is not signed.
type checkpointFile struct {
	Format     string `json:"format"`
	Tenant     string `json:"tenant"`
	TenantSlug string `json:"tenant_slug,omitempty"`
	Seq        int64  `json:"seq"`
	Hash       string `json:"hash"`
	Time       string `json:"time"`
	Algorithm  string `json:"algorithm"`
	KeyID      string `json:"key_id"`
	PublicKey  string `json:"public_key"`
	Signature  string `json:"signature"`
}

// MarshalCheckpoint encodes c with the public key that verifies it, for an auditor to
// keep.
func MarshalCheckpoint(c Checkpoint, pub ed25519.PublicKey, slug string) ([]byte, error) {
	if err := c.Verify(pub); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(checkpointFile{Format: CheckpointFormat, Tenant: c.Tenant, TenantSlug: slug, Seq: c.Seq,
		Hash: hex.EncodeToString(c.Hash), Time: c.Time.UTC().Format(time.RFC3339Nano), Algorithm: "Ed25519",
		KeyID: c.KeyID, PublicKey: base64.StdEncoding.EncodeToString(pub),
		Signature: base64.StdEncoding.EncodeToString(c.Signature)}, "", "  ")
	return append(b, '\n'), err
}

// ParseCheckpoint decodes an exported checkpoint and verifies its signature against
// the public key it carries; it returns the checkpoint and that key.
func ParseCheckpoint(b []byte) (Checkpoint, ed25519.PublicKey, error) {
	var f checkpointFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("not a checkpoint file: %w", err)
	}
	if f.Format != CheckpointFormat || f.Algorithm != "Ed25519" {
		return Checkpoint{}, nil, fmt.Errorf("unknown checkpoint format %q (algorithm %q)", f.Format, f.Algorithm)
	}
	c := Checkpoint{Tenant: f.Tenant, Seq: f.Seq, KeyID: f.KeyID}
	var err error
	var pub []byte
	if c.Hash, err = hex.DecodeString(f.Hash); err != nil || len(c.Hash) != sha256.Size {
		return Checkpoint{}, nil, errors.New("checkpoint: hash is not 32 hex-encoded bytes")
	}
	if c.Time, err = time.Parse(time.RFC3339Nano, f.Time); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: time: %w", err)
	}
	if pub, err = base64.StdEncoding.DecodeString(f.PublicKey); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: public key: %w", err)
	}
	if c.Signature, err = base64.StdEncoding.DecodeString(f.Signature); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: signature: %w", err)
	}
	if c.Seq < 1 || c.Tenant == "" {
		return Checkpoint{}, nil, errors.New("checkpoint: no tenant or sequence number")
	}
	if err := c.Verify(pub); err != nil {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return c, ed25519.PublicKey(pub), nil
}

// Rewritten is the kind of break VerifyFromCheckpoint reports when the trail is a
// valid chain but its record at the checkpoint's Seq no longer has the signed hash:
// the trail was rewritten, with recomputed hashes, up to there.
const Rewritten Kind = "rewritten"

// VerifyFromCheckpoint verifies a tenant's whole trail (in pages of size page) and
// that its record c.Seq has exactly c.Hash (c's signature must have been checked by
// the caller). It returns the number of records verified and the hash of the last
// one, and the first problem as a *VerifyError: a break in the chain (at or after the
// checkpoint), Rewritten at c.Seq when the chain is intact but its record c.Seq is not
// the signed one, or Removed when the trail now ends before c.Seq (records cut off).
// It trusts no expiry cut (Chain.VerifyFromCheckpoint does).
func VerifyFromCheckpoint(ctx context.Context, as store.AuditStore, c Checkpoint, page int) (int64, []byte, error) {
	v, err := Chain{Audit: as}.VerifyFromCheckpoint(ctx, c, page)
	return v.Last, v.Hash, err
}

// trailEndsAt reports whether the trail has no record after n.
func trailEndsAt(ctx context.Context, as store.AuditStore, n int64) bool {
	recs, err := as.ListAudit(ctx, n, 1)
	return err == nil && len(recs) == 0
}
