package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// passkeyStore is the WebAuthn credentials of one tenant's users.
type passkeyStore handle

const passkeyColumns = `id, user_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, backup_eligible, backup_state, name, created_at, last_used_at`

// AddPasskey stores p under the handle's tenant. A credential id registered anywhere
// (in any tenant) or a taken passkey id is ErrConflict; an unknown user ErrNotFound.
// A removed passkey of the same user with p's credential id is deleted first, in the
// same transaction: the credential registered again supersedes it (it would otherwise
// block the registration, or come back with a restore beside its successor). Anyone
// else's credential id, live or removed, stays taken.
func (ps passkeyStore) AddPasskey(ctx context.Context, p store.Passkey) error {
	s := ps.s
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM passkeys
			WHERE tenant_id = ? AND user_id = ? AND credential_id = ? AND deleted_at IS NOT NULL`),
			ps.tenantID, p.UserID, p.CredentialID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO passkeys (tenant_id, `+passkeyColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ps.tenantID, p.ID, p.UserID, p.CredentialID, p.PublicKey, p.AttestationType, bytesArg(p.AAGUID),
			int64(p.SignCount), listArg(p.Transports), p.BackupEligible, p.BackupState, cleanText(p.Name),
			timeArg(p.CreatedAt), timeArg(p.LastUsedAt))
		return err
	})
}

// ListPasskeys returns the user's live passkeys oldest first; a zero creation time (NULL)
// sorts first on both backends, as the zero time.Time is the earliest.
func (ps passkeyStore) ListPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	return ps.list(ctx, `SELECT `+passkeyColumns+`, deleted_at FROM passkeys
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NULL
		ORDER BY created_at IS NOT NULL, created_at, id`, userID)
}

// RemovedPasskeys returns the user's removed passkeys, most recently removed first.
func (ps passkeyStore) RemovedPasskeys(ctx context.Context, userID string) ([]store.Passkey, error) {
	return ps.list(ctx, `SELECT `+passkeyColumns+`, deleted_at FROM passkeys
		WHERE tenant_id = ? AND user_id = ? AND deleted_at IS NOT NULL
		ORDER BY deleted_at DESC, id`, userID)
}

func (ps passkeyStore) list(ctx context.Context, query, userID string) ([]store.Passkey, error) {
	s := ps.s
	rows, err := s.db.QueryContext(ctx, s.q(query), ps.tenantID, userID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// PasskeyByCredentialID looks the credential up in this tenant only: a credential of
// another tenant is ErrNotFound, as if it did not exist.
func (ps passkeyStore) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (store.Passkey, error) {
	s := ps.s
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+passkeyColumns+`, deleted_at FROM passkeys
		WHERE tenant_id = ? AND credential_id = ? AND deleted_at IS NULL`), ps.tenantID, credentialID)
	return scanPasskey(row)
}

// RecordPasskeyUse is one compare-and-set UPDATE: the new count is written only if it
// is greater than the stored one, or both are 0. Concurrent uses with the same count
// cannot both pass (PostgreSQL re-evaluates the condition after waiting for the row;
// SQLite runs writers one at a time). When no row changed, a second query tells an
// unknown credential (ErrNotFound) from a refused count (ErrConflict).
func (ps passkeyStore) RecordPasskeyUse(ctx context.Context, credentialID []byte, signCount uint32, backupState bool, at time.Time) error {
	used, err := requiredTime("passkey use time", at)
	if err != nil {
		return err
	}
	s := ps.s
	count := int64(signCount)
	// CAST: PostgreSQL would otherwise type the bare parameter as a 32-bit integer
	// from the literal 0, and counts above 2^31-1 would not fit.
	res, err := s.exec(ctx, `UPDATE passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE tenant_id = ? AND credential_id = ? AND deleted_at IS NULL
		AND (sign_count < ? OR (sign_count = 0 AND CAST(? AS BIGINT) = 0))`,
		count, backupState, used, ps.tenantID, credentialID, count, count)
	if err != nil {
		return mapErr(err)
	}
	one, err := affectedOne(res)
	if err != nil || one {
		return mapErr(err)
	}
	var exists int
	err = s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM passkeys WHERE tenant_id = ? AND credential_id = ? AND deleted_at IS NULL`),
		ps.tenantID, credentialID).Scan(&exists)
	if err != nil {
		return mapErr(err)
	}
	return store.ErrConflict
}

func (ps passkeyStore) RenamePasskey(ctx context.Context, userID, id, name string) error {
	res, err := ps.s.exec(ctx, `UPDATE passkeys SET name = ? WHERE tenant_id = ? AND user_id = ? AND id = ? AND deleted_at IS NULL`,
		cleanText(name), ps.tenantID, userID, id)
	return oneRowOrNotFound(res, err)
}

// DeletePasskey marks a live passkey removed (a removed one is ErrNotFound: it keeps
// its time of removal).
func (ps passkeyStore) DeletePasskey(ctx context.Context, userID, id string, at time.Time) error {
	removed, err := requiredTime("passkey removal time", at)
	if err != nil {
		return err
	}
	res, err := ps.s.exec(ctx, `UPDATE passkeys SET deleted_at = ? WHERE tenant_id = ? AND user_id = ? AND id = ? AND deleted_at IS NULL`,
		removed, ps.tenantID, userID, id)
	return oneRowOrNotFound(res, err)
}

// RestorePasskey clears the removal mark of a passkey removed at or after since.
func (ps passkeyStore) RestorePasskey(ctx context.Context, userID, id string, since time.Time) error {
	from, err := requiredTime("restore window start", since)
	if err != nil {
		return err
	}
	res, err := ps.s.exec(ctx, `UPDATE passkeys SET deleted_at = NULL
		WHERE tenant_id = ? AND user_id = ? AND id = ? AND deleted_at IS NOT NULL AND deleted_at >= ?`,
		ps.tenantID, userID, id, from)
	return oneRowOrNotFound(res, err)
}

// PurgeRemovedPasskeys deletes the tenant's passkeys removed before before.
func (ps passkeyStore) PurgeRemovedPasskeys(ctx context.Context, before time.Time) (int64, error) {
	return ps.s.purgeRemoved(ctx, "passkeys", ps.tenantID, before)
}

func scanPasskey(sc scanner) (store.Passkey, error) {
	var p store.Passkey
	var count int64
	var transports string
	var created, lastUsed, deleted sql.NullInt64
	err := sc.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.PublicKey, &p.AttestationType, &p.AAGUID,
		&count, &transports, &p.BackupEligible, &p.BackupState, &p.Name, &created, &lastUsed, &deleted)
	if err != nil {
		return store.Passkey{}, mapErr(err)
	}
	p.SignCount = uint32(count) // the column's CHECK keeps it in range
	if p.Transports, err = listOf("passkeys.transports", transports); err != nil {
		return store.Passkey{}, err
	}
	p.CreatedAt, p.LastUsedAt, p.DeletedAt = timeOf(created), timeOf(lastUsed), timeOf(deleted)
	return p, nil
}

// Interface guards
var _ store.PasskeyStore = passkeyStore{}
