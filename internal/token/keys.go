package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Timing of key rotation. A new key is published PublishLead before it signs
// anything, so that every verifier holding the JWKS (cached up to JWKSMaxAge, refreshed
// by instances every RefreshInterval) knows it first; a key replaced by a newer one
// stays published RetireAfter past the switch, longer than any token it signed lives.
const (
	PublishLead     = 10 * time.Minute
	RetireAfter     = 30 * time.Minute
	JWKSMaxAge      = 5 * time.Minute
	RefreshInterval = time.Minute
	// DefaultRotation is how often a new signing key is made (signing_key_rotation).
	DefaultRotation = 30 * 24 * time.Hour
)

// ErrNoSigningKey: the store holds no key this instance can sign with (yet).
var ErrNoSigningKey = errors.New("no signing key")

// Keys is what the key ring needs of the store: the keys, and a lease so that of
// several instances one at a time creates them.
type Keys interface {
	ListSigningKeys(ctx context.Context) ([]store.SigningKey, error)
	CreateSigningKey(ctx context.Context, k store.SigningKey) error
}

// Leaser grants named leases across instances (store.Maintenance).
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
}

// KeyRing holds the deployment's signing keys: the private keys (sealed in the store
// with the master key) to sign with, the public ones to verify and publish. Every
// instance reads the same keys from the store; Run keeps them current and rotates on
// schedule.
type KeyRing struct {
	Store    Keys
	Leases   Leaser
	Cipher   *secret.FieldCipher
	Holder   string        // this instance's name for the rotation lease
	Rotation time.Duration // default DefaultRotation
	Clock    clock.Clock
	Logger   *zap.Logger

	state atomic.Pointer[ring]
}

// key is one signing key, parsed.
type key struct {
	kid       string
	pub       *ecdsa.PublicKey
	priv      *ecdsa.PrivateKey // nil when this instance cannot open it
	created   time.Time
	activates time.Time
}

// ring is one loaded set of keys, by activation ascending.
type ring struct {
	keys  []*key
	byKID map[string]*key
}

const leaseName = "signing-keys"

// Load reads the keys from the store. A key whose private half this instance cannot
// open (another master key) is kept for verifying only, and logged.
func (k *KeyRing) Load(ctx context.Context) error {
	stored, err := k.Store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading signing keys: %w", err)
	}
	r := &ring{byKID: make(map[string]*key, len(stored))}
	for _, s := range stored {
		pk, err := x509.ParsePKIXPublicKey(s.PublicKey)
		pub, ok := pk.(*ecdsa.PublicKey)
		if err != nil || !ok || pub.Curve != elliptic.P256() {
			k.log().Error("signing key with an unusable public key skipped", zap.String("kid", s.KID), zap.Error(err))
			continue
		}
		kk := &key{kid: s.KID, pub: pub, created: s.CreatedAt, activates: s.ActivatesAt}
		if kk.priv, err = k.open(s); err != nil {
			k.log().Error("signing key this instance cannot open (another master key?): used to verify only",
				zap.String("kid", s.KID), zap.Error(err))
		}
		r.keys = append(r.keys, kk)
		r.byKID[s.KID] = kk
	}
	k.state.Store(r)
	return nil
}

func (k *KeyRing) open(s store.SigningKey) (*ecdsa.PrivateKey, error) {
	if k.Cipher == nil {
		return nil, errors.New("no master key here")
	}
	der, err := k.Cipher.Open(s.PrivateKey, s.SealKeyID, SigningKeySealAD(s.KID))
	if err != nil {
		return nil, err
	}
	pk, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing private key: %w", err)
	}
	priv, ok := pk.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return priv, nil
}

// SigningKeySealAD is the associated data a signing key is sealed with: its kid.
func SigningKeySealAD(kid string) []byte { return secret.AD("signing-key", kid) }

// Ensure makes sure a key can sign now: it loads the keys and, when none can, creates
// one that signs at once (there is nothing yet that verifiers could have cached). Of
// several instances starting together one creates it; the others wait for it.
func (k *KeyRing) Ensure(ctx context.Context) error {
	for deadline := time.Now().Add(15 * time.Second); ; {
		if err := k.Load(ctx); err != nil {
			return err
		}
		if k.signing(k.Clock.Now()) != nil {
			return nil
		}
		ok, err := k.Leases.AcquireLease(ctx, leaseName, k.Holder, time.Minute, k.Clock.Now())
		if err != nil {
			return fmt.Errorf("signing-key lease: %w", err)
		}
		if ok {
			if err := k.Load(ctx); err != nil { // another instance may have finished just before
				return err
			}
			if k.signing(k.Clock.Now()) != nil {
				return nil
			}
			now := k.Clock.Now()
			if _, err := k.create(ctx, now, now); err != nil {
				return err
			}
			return k.Load(ctx)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w this instance can open: the stored keys are sealed with another master key (every instance needs the same one), "+
				"and another instance holds the %q lease to create one (it ends within a minute of that instance stopping)", ErrNoSigningKey, leaseName)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Rotate creates a new key, published now, signing from PublishLead on (and reloads);
// it returns its kid.
func (k *KeyRing) Rotate(ctx context.Context) (string, error) {
	now := k.Clock.Now()
	kid, err := k.create(ctx, now, now.Add(PublishLead))
	if err != nil {
		return "", err
	}
	return kid, k.Load(ctx)
}

func (k *KeyRing) create(ctx context.Context, created, activates time.Time) (string, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	kid := thumbprint(&priv.PublicKey)
	sealed, sealKey := k.Cipher.Seal(der, SigningKeySealAD(kid))
	if err := k.Store.CreateSigningKey(ctx, store.SigningKey{KID: kid, Algorithm: "ES256", PublicKey: pub,
		PrivateKey: sealed, SealKeyID: sealKey, CreatedAt: created, ActivatesAt: activates}); err != nil {
		return "", fmt.Errorf("storing signing key: %w", err)
	}
	k.log().Info("signing key created", zap.String("kid", kid), zap.Time("signs_from", activates))
	return kid, nil
}

// RotateIfDue rotates when the newest key is older than the rotation period. Of
// several instances one does it (under the lease); it reports whether this one did.
func (k *KeyRing) RotateIfDue(ctx context.Context) (bool, error) {
	now := k.Clock.Now()
	if !k.due(now) {
		return false, nil
	}
	ok, err := k.Leases.AcquireLease(ctx, leaseName, k.Holder, time.Minute, now)
	if err != nil || !ok {
		return false, err
	}
	if err := k.Load(ctx); err != nil { // another instance may have rotated already
		return false, err
	}
	if !k.due(now) {
		return false, nil
	}
	_, err = k.Rotate(ctx)
	return err == nil, err
}

func (k *KeyRing) due(now time.Time) bool {
	r := k.state.Load()
	if r == nil || len(r.keys) == 0 {
		return true
	}
	rot := k.Rotation
	if rot <= 0 {
		rot = DefaultRotation
	}
	return now.Sub(r.keys[len(r.keys)-1].created) >= rot
}

// Run reloads the keys every RefreshInterval (so that a key made by another instance
// or the CLI is known here well before it signs) and rotates when due, until ctx ends.
func (k *KeyRing) Run(ctx context.Context) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := k.Load(ctx); err != nil {
			k.log().Warn("reloading signing keys", zap.Error(err))
			continue
		}
		if rotated, err := k.RotateIfDue(ctx); err != nil {
			k.log().Error("rotating the signing key", zap.Error(err))
		} else if rotated {
			k.log().Info("signing key rotated")
		}
	}
}

// signing returns the key to sign with at now: the newest that has activated and that
// this instance can open.
func (k *KeyRing) signing(now time.Time) *key {
	r := k.state.Load()
	if r == nil {
		return nil
	}
	for i := len(r.keys) - 1; i >= 0; i-- {
		if kk := r.keys[i]; !kk.activates.After(now) && kk.priv != nil {
			return kk
		}
	}
	return nil
}

// public returns the key with kid, for verifying.
func (k *KeyRing) public(kid string) *key {
	if r := k.state.Load(); r != nil {
		return r.byKID[kid]
	}
	return nil
}

// published lists the keys a verifier may meet at now: every key not yet replaced,
// those waiting to sign, and those replaced less than RetireAfter ago.
func (k *KeyRing) published(now time.Time) []*key {
	r := k.state.Load()
	if r == nil {
		return nil
	}
	var out []*key
	for i, kk := range r.keys {
		// The next key that activates replaces this one.
		var next *key
		if i+1 < len(r.keys) {
			next = r.keys[i+1]
		}
		if next == nil || now.Before(next.activates.Add(RetireAfter)) {
			out = append(out, kk)
		}
	}
	return out
}

// JWK is a public key as a JSON Web Key (RFC 7517, EC P-256).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
}

// JWKS is the published key set as JSON: public keys only.
func (k *KeyRing) JWKS() []byte {
	set := struct {
		Keys []JWK `json:"keys"`
	}{Keys: []JWK{}}
	for _, kk := range k.published(k.Clock.Now()) {
		set.Keys = append(set.Keys, jwkOf(kk.kid, kk.pub))
	}
	b, _ := json.Marshal(set)
	return b
}

func jwkOf(kid string, pub *ecdsa.PublicKey) JWK {
	x, y := coords(pub)
	return JWK{Kty: "EC", Crv: "P-256", X: b64(x), Y: b64(y), Kid: kid, Use: "sig", Alg: "ES256"}
}

// coords returns the public point's coordinates as 32-byte big-endian values.
func coords(pub *ecdsa.PublicKey) ([]byte, []byte) {
	raw, err := pub.Bytes() // uncompressed: 0x04 || X || Y
	if err != nil || len(raw) != 65 {
		return pad32(pub.X), pad32(pub.Y) //nolint:staticcheck // fallback for keys Bytes cannot encode
	}
	return raw[1:33], raw[33:]
}

func pad32(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// thumbprint is the RFC 7638 JWK thumbprint of the public key: the key id.
func thumbprint(pub *ecdsa.PublicKey) string {
	x, y := coords(pub)
	// The required members in lexicographic order, no whitespace.
	canon := `{"crv":"P-256","kty":"EC","x":"` + b64(x) + `","y":"` + b64(y) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

func (k *KeyRing) log() *zap.Logger {
	if k.Logger == nil {
		return zap.NewNop()
	}
	return k.Logger
}

// KeyInfo describes a key for operators (gatehouse keys list).
type KeyInfo struct {
	KID       string
	Created   time.Time
	SignsFrom time.Time
	Signing   bool // the key that signs now
	Published bool // in the JWKS now
	CanSign   bool // this process can open its private half
}

// Describe lists the keys as of now, oldest first.
func (k *KeyRing) Describe(now time.Time) []KeyInfo {
	r := k.state.Load()
	if r == nil {
		return nil
	}
	signing, published := k.signing(now), k.published(now)
	out := make([]KeyInfo, 0, len(r.keys))
	for _, kk := range r.keys {
		in := KeyInfo{KID: kk.kid, Created: kk.created, SignsFrom: kk.activates, Signing: kk == signing, CanSign: kk.priv != nil}
		for _, p := range published {
			in.Published = in.Published || p == kk
		}
		out = append(out, in)
	}
	return out
}
