package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func TestCheckpointSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	otherPub, otherPriv, _ := ed25519.GenerateKey(nil)
	c := Checkpoint{Tenant: "t1", Seq: 42, Hash: bytes.Repeat([]byte{7}, 32), Time: time.Unix(1700000000, 123456789)}
	c.Sign(priv)
	if err := c.Verify(pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for name, mut := range map[string]func(*Checkpoint){
		"tenant": func(c *Checkpoint) { c.Tenant = "t2" },
		"seq":    func(c *Checkpoint) { c.Seq++ },
		"hash":   func(c *Checkpoint) { c.Hash = append([]byte{}, c.Hash...); c.Hash[0] ^= 1 },
		"time":   func(c *Checkpoint) { c.Time = c.Time.Add(time.Nanosecond) },
		"sig":    func(c *Checkpoint) { c.Signature = append([]byte{}, c.Signature...); c.Signature[3] ^= 1 },
	} {
		d := c
		mut(&d)
		if err := d.Verify(pub); !errors.Is(err, ErrBadSignature) {
			t.Errorf("tampered %s: %v", name, err)
		}
	}
	if err := c.Verify(otherPub); err == nil {
		t.Error("verified with the wrong key")
	}
	// Signed by another key but claiming the first one's id.
	forged := c
	forged.Signature = ed25519.Sign(otherPriv, c.Message())
	if err := forged.Verify(pub); !errors.Is(err, ErrBadSignature) {
		t.Errorf("forged: %v", err)
	}

	// The file round-trips and carries the key; a tampered file fails.
	b, err := MarshalCheckpoint(c, pub, "acme")
	if err != nil {
		t.Fatal(err)
	}
	got, gotPub, err := ParseCheckpoint(b)
	if err != nil || !gotPub.Equal(pub) || got.Seq != 42 || !got.Time.Equal(c.Time) || !bytes.Equal(got.Hash, c.Hash) {
		t.Fatalf("parse: %+v %v", got, err)
	}
	bad := bytes.Replace(b, []byte(`"seq": 42`), []byte(`"seq": 41`), 1)
	if _, _, err := ParseCheckpoint(bad); !errors.Is(err, ErrBadSignature) {
		t.Errorf("tampered file: %v", err)
	}
	// Swapping in another public key: the key id no longer matches.
	other, _ := MarshalCheckpoint(forged2(t, c, otherPriv), otherPub, "acme")
	swapped := bytes.Replace(b, []byte(`"public_key"`), []byte(`"x"`), 1)
	if _, _, err := ParseCheckpoint(swapped); err == nil {
		t.Error("file with an unknown field parsed")
	}
	if _, _, err := ParseCheckpoint(other); err != nil {
		t.Errorf("other key's own checkpoint: %v", err)
	}
}

func forged2(t *testing.T, c Checkpoint, priv ed25519.PrivateKey) Checkpoint {
	t.Helper()
	c.Sign(priv)
	return c
}

type env struct {
	st   store.Store
	ws   store.Workspace
	clk  *clock.Fake
	keys *KeyStore
	w    *Writer
}

func newEnv(t *testing.T) env {
	st := testdb.Store(t)
	clk := clock.NewFake(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	fc, err := secret.NewFieldCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return env{st: st, ws: testdb.Workspace(t, st, "acme"), clk: clk, w: NewWriter(clk),
		keys: &KeyStore{Store: st.AuditKeys(), Leases: st.Maintenance(), Cipher: fc, Holder: "test", Clock: clk}}
}

func (e env) write(t *testing.T, n int) {
	t.Helper()
	for range n {
		if _, err := e.w.Write(t.Context(), e.ws, store.AuditRecord{Action: ActionLoginSuccess, Outcome: Success}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKeyStoreEnsure(t *testing.T) {
	e := newEnv(t)
	s1, err := e.keys.Ensure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s2, err := e.keys.Ensure(t.Context())
	if err != nil || s2.KeyID != s1.KeyID {
		t.Fatalf("second Ensure made another key: %v %v", s2, err)
	}
	// Another master key cannot open it.
	fc, _ := secret.NewFieldCipher(bytes.Repeat([]byte{2}, 32))
	other := *e.keys
	other.Cipher = fc
	if _, err := other.Load(t.Context()); !errors.Is(err, ErrNoAuditKey) {
		t.Errorf("load with another master key: %v", err)
	}
}

func TestCheckpointerCadence(t *testing.T) {
	e := newEnv(t)
	cp := &Checkpointer{Store: e.st, Keys: e.keys, Leases: e.st.Maintenance(), Holder: "test", Every: 5, Interval: 10 * time.Minute, Clock: e.clk}
	latest := func() int64 {
		c, err := e.ws.Checkpoints().LatestCheckpoint(t.Context())
		if errors.Is(err, store.ErrNotFound) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		return c.Seq
	}
	once := func(want int) {
		t.Helper()
		if ran, n, err := cp.Once(t.Context()); err != nil || !ran || n != want {
			t.Fatalf("Once: ran %v, wrote %d, %v; want %d", ran, n, err, want)
		}
	}
	once(0) // empty trail
	e.write(t, 1)
	once(1) // the first checkpoint at once
	if latest() != 1 {
		t.Fatalf("latest %d", latest())
	}
	e.write(t, 3)
	e.clk.Advance(time.Minute)
	once(0) // 3 records, 1 minute: not due
	e.write(t, 1)
	once(0) // 4 records since
	e.write(t, 1)
	once(1) // 5 records since
	if latest() != 6 {
		t.Fatalf("latest %d, want 6", latest())
	}
	e.clk.Advance(11 * time.Minute)
	once(0) // time passed but no new records
	e.write(t, 1)
	once(1) // one record, interval passed
	if latest() != 7 {
		t.Fatalf("latest %d, want 7", latest())
	}
	// Stored checkpoints verify with the stored key.
	s, err := e.keys.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.ws.Checkpoints().LatestCheckpoint(t.Context())
	if err := CheckpointOf(e.ws.ID, c).Verify(s.Public); err != nil {
		t.Errorf("stored checkpoint: %v", err)
	}
	// Another holder of the lease: this one does nothing.
	other := *cp
	other.Holder = "other"
	if ran, _, err := other.Once(t.Context()); err != nil || ran {
		t.Errorf("other holder ran: %v %v", ran, err)
	}
}

func TestVerifyFromCheckpoint(t *testing.T) {
	e := newEnv(t)
	e.write(t, 5)
	s, err := e.keys.Ensure(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, ok, err := CheckpointNow(t.Context(), s, e.ws, e.clk.Now())
	if err != nil || !ok || c.Seq != 5 {
		t.Fatalf("CheckpointNow: %+v %v %v", c, ok, err)
	}
	e.write(t, 3)
	if n, _, err := VerifyFromCheckpoint(t.Context(), e.ws.Audit(), c, 2); err != nil || n != 8 {
		t.Fatalf("intact: %d %v", n, err)
	}
	// A checkpoint further than the trail: cut off.
	far := c
	far.Seq = 20
	var ve *VerifyError
	if _, _, err := VerifyFromCheckpoint(t.Context(), e.ws.Audit(), far, 3); !errors.As(err, &ve) || ve.Kind != Removed || ve.Seq != 9 {
		t.Errorf("cut off: %v", err)
	}
	// Same seq, other hash: rewritten.
	wrong := c
	wrong.Hash = bytes.Repeat([]byte{9}, 32)
	if _, _, err := VerifyFromCheckpoint(t.Context(), e.ws.Audit(), wrong, 3); !errors.As(err, &ve) || ve.Kind != Rewritten || ve.Seq != 5 {
		t.Errorf("rewritten: %v", err)
	}
}
