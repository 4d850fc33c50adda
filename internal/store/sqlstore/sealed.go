package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// dataKeyStore is the deployment's sealed data keys; it binds no tenant id.
type dataKeyStore struct{ s *Store }

// DataKeys returns the data keys.
func (s *Store) DataKeys() store.DataKeyStore { return dataKeyStore{s} }

// DataKey returns the key for purpose.
func (ds dataKeyStore) DataKey(ctx context.Context, purpose string) (store.DataKey, error) {
	k := store.DataKey{Purpose: purpose}
	var created sql.NullInt64
	err := ds.s.db.QueryRowContext(ctx, ds.s.q(`SELECT sealed, seal_key_id, created_at FROM data_keys WHERE purpose = ?`),
		purpose).Scan(&k.Sealed, &k.SealKeyID, &created)
	k.CreatedAt = timeOf(created)
	return k, mapErr(err)
}

// CreateDataKey inserts k; an existing purpose is ErrConflict (the primary key).
func (ds dataKeyStore) CreateDataKey(ctx context.Context, k store.DataKey) error {
	_, err := ds.s.exec(ctx, `INSERT INTO data_keys (purpose, sealed, seal_key_id, created_at) VALUES (?, ?, ?, ?)`,
		k.Purpose, k.Sealed, k.SealKeyID, timeArg(k.CreatedAt))
	return mapErr(err)
}

// sealedFieldStore reads and re-seals every sealed column, across tenants.
type sealedFieldStore struct{ s *Store }

// SealedFields returns the sealed values of the whole deployment.
func (s *Store) SealedFields() store.SealedFieldStore { return sealedFieldStore{s} }

// sealedTable says where one kind of sealed value lives. tenant is "" for tables
// that bind no tenant; the kind's position is then (”, id).
type sealedTable struct {
	table, tenant, id, sealed, keyID string
}

var sealedTables = map[string]sealedTable{
	store.SealedTOTP:       {"totp_secrets", "tenant_id", "user_id", "ciphertext", "key_id"},
	store.SealedSigningKey: {"signing_keys", "", "kid", "private_key", "seal_key_id"},
	store.SealedAuditKey:   {"audit_keys", "", "kid", "private_key", "seal_key_id"},
	store.SealedDataKey:    {"data_keys", "", "purpose", "sealed", "seal_key_id"},
}

func sealedTableOf(kind string) (sealedTable, error) {
	t, ok := sealedTables[kind]
	if !ok {
		return t, fmt.Errorf("unknown kind of sealed value %q", kind)
	}
	return t, nil
}

// tenantExpr is the tenant column, or the empty string for deployment-wide tables.
func (t sealedTable) tenantExpr() string {
	if t.tenant == "" {
		return "''"
	}
	return t.tenant
}

// CountSealed counts sealed values by kind and key id.
func (fs sealedFieldStore) CountSealed(ctx context.Context) ([]store.SealedCount, error) {
	var out []store.SealedCount
	for _, kind := range store.SealedKinds {
		t := sealedTables[kind]
		rows, err := fs.s.db.QueryContext(ctx, `SELECT `+t.keyID+`, COUNT(*) FROM `+t.table+` GROUP BY `+t.keyID+` ORDER BY `+t.keyID)
		if err != nil {
			return nil, mapErr(err)
		}
		for rows.Next() {
			c := store.SealedCount{Kind: kind}
			if err := rows.Scan(&c.KeyID, &c.N); err != nil {
				rows.Close()
				return nil, mapErr(err)
			}
			out = append(out, c)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, mapErr(err)
		}
	}
	return out, nil
}

// SealedNotUnder lists values of kind not sealed under keyID after position after.
func (fs sealedFieldStore) SealedNotUnder(ctx context.Context, kind, keyID string, after store.SealedField, limit int) ([]store.SealedField, error) {
	t, err := sealedTableOf(kind)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	ten, order := t.tenantExpr(), t.id
	if t.tenant != "" {
		order = t.tenant + `, ` + t.id
	}
	query := `SELECT ` + ten + `, ` + t.id + `, ` + t.sealed + `, ` + t.keyID + ` FROM ` + t.table +
		` WHERE ` + t.keyID + ` <> ? AND (` + ten + ` > ? OR (` + ten + ` = ? AND ` + t.id + ` > ?))
		ORDER BY ` + order + ` LIMIT ?`
	rows, err := fs.s.db.QueryContext(ctx, fs.s.q(query), keyID, after.Tenant, after.Tenant, after.ID, limit)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.SealedField
	for rows.Next() {
		f := store.SealedField{Kind: kind}
		if err := rows.Scan(&f.Tenant, &f.ID, &f.Sealed, &f.KeyID); err != nil {
			return nil, mapErr(err)
		}
		out = append(out, f)
	}
	return out, mapErr(rows.Err())
}

// Reseal swaps f's sealed value if the row still holds exactly what f read.
func (fs sealedFieldStore) Reseal(ctx context.Context, f store.SealedField, sealed []byte, keyID string) (bool, error) {
	t, err := sealedTableOf(f.Kind)
	if err != nil {
		return false, err
	}
	if len(sealed) == 0 || keyID == "" {
		return false, fmt.Errorf("re-sealing %s %s: empty value or key id", f.Kind, f.ID)
	}
	query := `UPDATE ` + t.table + ` SET ` + t.sealed + ` = ?, ` + t.keyID + ` = ? WHERE ` + t.id + ` = ? AND ` +
		t.sealed + ` = ? AND ` + t.keyID + ` = ?`
	args := []any{sealed, keyID, f.ID, f.Sealed, f.KeyID}
	if t.tenant != "" {
		query += ` AND ` + t.tenant + ` = ?`
		args = append(args, f.Tenant)
	}
	res, err := fs.s.exec(ctx, query, args...)
	if err != nil {
		return false, err
	}
	return affectedOne(res)
}

// Interface guards
var (
	_ store.DataKeyStore     = dataKeyStore{}
	_ store.SealedFieldStore = sealedFieldStore{}
)
