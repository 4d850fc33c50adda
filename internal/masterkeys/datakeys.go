package masterkeys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Data key purposes.
const (
	// PurposeAuditDigest keys the digest of audit records' personal fields
	// (audit.Digester): it must never change, or older records stop verifying.
	PurposeAuditDigest = "audit-digest"
	// PurposeRefreshSuccessor keys the derivation of a rotated refresh token from the
	// one it replaces (token.Service.SuccessorKey): a change would break every
	// refresh in flight.
	PurposeRefreshSuccessor = "refresh-successor"
)

// DataKeySealAD is the associated data a data key is sealed with: its purpose.
func DataKeySealAD(purpose string) []byte { return secret.AD("data-key", purpose) }

// DataKeys is the store of data keys.
type DataKeys interface {
	DataKey(ctx context.Context, purpose string) (store.DataKey, error)
	CreateDataKey(ctx context.Context, k store.DataKey) error
}

// LoadDataKey returns the data key for purpose: the stored one, opened; or, the first
// time, initial — sealed and stored when create is set (of several instances starting
// together one stores it, and every one then uses the stored key). A read-only command
// passes create false and gets initial without storing it.
//
// initial is what the key was before data keys were kept: derived from the master key
// (secret.DeriveKey). Deriving it from the master key in use when it is first stored
// keeps everything it keyed before the upgrade verifying; from then on it is fixed.
func LoadDataKey(ctx context.Context, ks DataKeys, fc *secret.FieldCipher, purpose string, initial []byte, create bool, now time.Time) ([]byte, error) {
	for range 2 {
		k, err := ks.DataKey(ctx, purpose)
		if err == nil {
			key, err := fc.Open(k.Sealed, k.SealKeyID, DataKeySealAD(purpose))
			if errors.Is(err, secret.ErrUnknownKey) {
				return nil, fmt.Errorf("the store's data key %s is sealed under %s, which no version of this master key opens: "+
					"this is not the master key the store was sealed with (restore the key file from its backup): %w", purpose, k.SealKeyID, err)
			}
			if err != nil {
				return nil, fmt.Errorf("data key %s: %w", purpose, err)
			}
			return key, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("reading data key %s: %w", purpose, err)
		}
		if len(initial) != 32 {
			return nil, fmt.Errorf("data key %s: %d bytes, want 32", purpose, len(initial))
		}
		if !create {
			return initial, nil
		}
		sealed, kid := fc.Seal(initial, DataKeySealAD(purpose))
		err = ks.CreateDataKey(ctx, store.DataKey{Purpose: purpose, Sealed: sealed, SealKeyID: kid, CreatedAt: now})
		if err == nil {
			return initial, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("storing data key %s: %w", purpose, err)
		}
		// Another instance stored it first: use that one.
	}
	return nil, fmt.Errorf("data key %s: stored and then not found", purpose)
}

// DataKeySet is the gateway's data keys.
type DataKeySet struct {
	AuditDigest, RefreshSuccessor []byte
}

// initialKey derives a data key's initial value from a master key, as it was derived
// before data keys were kept.
func initialKey(master []byte, purpose string) ([]byte, error) {
	switch purpose {
	case PurposeAuditDigest:
		return audit.DigestKey(master)
	case PurposeRefreshSuccessor:
		return secret.DeriveKey(master, "refresh successor v1")
	}
	return nil, fmt.Errorf("unknown data key purpose %q", purpose)
}

// EnsureDataKeys loads (creating when create is set) every data key, each initially
// derived from the oldest of masters: before data keys were kept, every key was derived
// from the one master key there was, which is version 1 — also when an operator lists a
// new version before the first start of a version that keeps them.
func EnsureDataKeys(ctx context.Context, ks DataKeys, fc *secret.FieldCipher, masters []secret.MasterKey, create bool, now time.Time) (DataKeySet, error) {
	var set DataKeySet
	if len(masters) == 0 {
		return set, errors.New("no master key")
	}
	master := Oldest(masters).Key
	for _, p := range []struct {
		purpose string
		dst     *[]byte
	}{{PurposeAuditDigest, &set.AuditDigest}, {PurposeRefreshSuccessor, &set.RefreshSuccessor}} {
		initial, err := initialKey(master, p.purpose)
		if err != nil {
			return set, fmt.Errorf("deriving data key %s: %w", p.purpose, err)
		}
		if *p.dst, err = LoadDataKey(ctx, ks, fc, p.purpose, initial, create, now); err != nil {
			return set, err
		}
	}
	return set, nil
}

// Oldest is the lowest version of keys.
func Oldest(keys []secret.MasterKey) secret.MasterKey {
	o := keys[0]
	for _, k := range keys[1:] {
		if k.Version < o.Version {
			o = k
		}
	}
	return o
}
