package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestCutSignature: a cut verifies with its key and not once a field changed; a
// checkpoint's signature over the same fields is no cut's, and the other way round.
func TestCutSignature(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	s := &Signer{KeyID: KeyIDOf(pub), Public: pub, priv: priv}
	c := Cut{Tenant: "t1", Seq: 42, Hash: bytes.Repeat([]byte{7}, 32), Time: time.Unix(1700000000, 5)}
	c.Sign(s)
	if err := c.Verify(pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for name, mut := range map[string]func(*Cut){
		"tenant": func(c *Cut) { c.Tenant = "t2" },
		"seq":    func(c *Cut) { c.Seq++ },
		"hash":   func(c *Cut) { c.Hash = bytes.Repeat([]byte{8}, 32) },
		"time":   func(c *Cut) { c.Time = c.Time.Add(time.Nanosecond) },
	} {
		d := c
		mut(&d)
		if err := d.Verify(pub); err == nil {
			t.Errorf("cut with another %s verified", name)
		}
	}
	cp := Checkpoint{Tenant: c.Tenant, Seq: c.Seq, Hash: c.Hash, Time: c.Time}
	cp.Sign(priv)
	asCut := c
	asCut.Signature = cp.Signature
	if err := asCut.Verify(pub); err == nil {
		t.Error("a checkpoint's signature verified as a cut's")
	}
	cp.Signature = c.Signature
	if err := cp.Verify(pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a cut's signature as a checkpoint's: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if err := c.Verify(other); err == nil {
		t.Error("verified with another key")
	}
}

// TestVerifyThroughMissingUpTo: when record upTo itself is missing but later ones are
// there, verification through upTo reports it removed rather than stopping short.
func TestVerifyThroughMissingUpTo(t *testing.T) {
	var recs []store.AuditRecord
	prev := ZeroHash
	for i := int64(1); i <= 6; i++ {
		r := store.AuditRecord{Seq: i, TenantID: "t", Action: "x", PrevHash: prev}
		r.Hash = Hash(r)
		prev = r.Hash
		recs = append(recs, r)
	}
	gap := append(append([]store.AuditRecord{}, recs[:3]...), recs[4:]...) // record 4 removed
	n, _, err := VerifyThrough(context.Background(), listOnly{recs: gap}, 4, 2)
	var ve *VerifyError
	if !errors.As(err, &ve) || ve.Kind != Removed || ve.Seq != 4 || n != 3 {
		t.Fatalf("through a missing record: %d %v", n, err)
	}
	c := Checkpoint{Tenant: "t", Seq: 4, Hash: recs[3].Hash}
	if _, _, err := VerifyFromCheckpoint(context.Background(), listOnly{recs: gap}, c, 2); !errors.As(err, &ve) || ve.Kind != Removed || ve.Seq != 4 {
		t.Fatalf("from a checkpoint of a missing record: %v", err)
	}
}
