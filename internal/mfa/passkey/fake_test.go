package passkey

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// fakeBackend keeps passkeys of all tenants, with the PasskeyStore semantics the SQL
// backends implement (credential ids unique across tenants, atomic sign-count compare).
type fakeBackend struct {
	mu       sync.Mutex
	passkeys []fakePasskey // in insertion order
	// beforeRecord, if set, runs inside RecordPasskeyUse before the compare (to
	// simulate a concurrent sign-in that got there first).
	beforeRecord func(p *store.Passkey)
}

type fakePasskey struct {
	tenant string
	store.Passkey
}

// tenant returns a handle; only TenantID and Passkeys are implemented.
func (b *fakeBackend) tenant(id string) *fakeTenant {
	return &fakeTenant{id: id, pk: &fakePasskeys{b: b, tenant: id}}
}

type fakeTenant struct {
	store.TenantHandle // nil: other stores panic if used
	id                 string
	pk                 *fakePasskeys
}

func (t *fakeTenant) TenantID() string             { return t.id }
func (t *fakeTenant) Passkeys() store.PasskeyStore { return t.pk }

type fakePasskeys struct {
	b      *fakeBackend
	tenant string
}

func clonePasskey(p store.Passkey) store.Passkey {
	p.CredentialID = bytes.Clone(p.CredentialID)
	p.PublicKey = bytes.Clone(p.PublicKey)
	p.AAGUID = bytes.Clone(p.AAGUID)
	p.Transports = slices.Clone(p.Transports)
	return p
}

func (f *fakePasskeys) find(credentialID []byte) *fakePasskey {
	for i := range f.b.passkeys {
		if p := &f.b.passkeys[i]; p.tenant == f.tenant && bytes.Equal(p.CredentialID, credentialID) {
			return p
		}
	}
	return nil
}

func (f *fakePasskeys) AddPasskey(_ context.Context, p store.Passkey) error {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	for _, q := range f.b.passkeys {
		if bytes.Equal(q.CredentialID, p.CredentialID) {
			return store.ErrConflict
		}
	}
	f.b.passkeys = append(f.b.passkeys, fakePasskey{tenant: f.tenant, Passkey: clonePasskey(p)})
	return nil
}

func (f *fakePasskeys) ListPasskeys(_ context.Context, userID string) ([]store.Passkey, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	var out []store.Passkey
	for _, p := range f.b.passkeys {
		if p.tenant == f.tenant && p.UserID == userID {
			out = append(out, clonePasskey(p.Passkey))
		}
	}
	return out, nil
}

func (f *fakePasskeys) PasskeyByCredentialID(_ context.Context, credentialID []byte) (store.Passkey, error) {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	if p := f.find(credentialID); p != nil {
		return clonePasskey(p.Passkey), nil
	}
	return store.Passkey{}, store.ErrNotFound
}

func (f *fakePasskeys) RecordPasskeyUse(_ context.Context, credentialID []byte, signCount uint32, backupState bool, at time.Time) error {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	p := f.find(credentialID)
	if p == nil {
		return store.ErrNotFound
	}
	if f.b.beforeRecord != nil {
		f.b.beforeRecord(&p.Passkey)
	}
	if signCount <= p.SignCount && (signCount != 0 || p.SignCount != 0) {
		return store.ErrConflict
	}
	p.SignCount, p.BackupState, p.LastUsedAt = signCount, backupState, at
	return nil
}

func (f *fakePasskeys) RenamePasskey(_ context.Context, userID, id, name string) error {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	for i := range f.b.passkeys {
		if p := &f.b.passkeys[i]; p.tenant == f.tenant && p.UserID == userID && p.ID == id {
			p.Name = name
			return nil
		}
	}
	return store.ErrNotFound
}

// DeletePasskey drops the passkey at once: the fake keeps no removed passkeys (the
// live view is the same; the soft delete itself is in internal/storetest).
func (f *fakePasskeys) DeletePasskey(_ context.Context, userID, id string, _ time.Time) error {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	for i, p := range f.b.passkeys {
		if p.tenant == f.tenant && p.UserID == userID && p.ID == id {
			f.b.passkeys = slices.Delete(f.b.passkeys, i, i+1)
			return nil
		}
	}
	return store.ErrNotFound
}

func (f *fakePasskeys) RemovedPasskeys(context.Context, string) ([]store.Passkey, error) {
	return nil, nil
}

func (f *fakePasskeys) RestorePasskey(context.Context, string, string, time.Time) error {
	return store.ErrNotFound
}

func (f *fakePasskeys) PurgeRemovedPasskeys(context.Context, time.Time) (int64, error) {
	return 0, nil
}

// Interface guards
var (
	_ store.TenantHandle = (*fakeTenant)(nil)
	_ store.PasskeyStore = (*fakePasskeys)(nil)
)
