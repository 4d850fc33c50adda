package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// settingsStore is one tenant's settings row.
type settingsStore handle

// SecuritySettings returns the saved policy, or the zero value if none was saved (also
// for a tenant that does not exist).
func (ss settingsStore) SecuritySettings(ctx context.Context) (store.SecuritySettings, error) {
	s := ss.s
	var out store.SecuritySettings
	var since, updated, disclosure sql.NullInt64
	var grace, lockThreshold, lockBase, lockMax int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT require_2fa, require_2fa_since, grace_period_ns,
		require_passkeys_admins, updated_at, updated_by, anomaly_action,
		lockout_threshold, lockout_base_ns, lockout_max_ns, permission_review_off,
		disclosure_contact, disclosure_expires
		FROM tenant_settings WHERE tenant_id = ?`), ss.tenantID).
		Scan(&out.Require2FA, &since, &grace, &out.RequirePasskeysForAdmins, &updated, &out.UpdatedBy, &out.AnomalyAction,
			&lockThreshold, &lockBase, &lockMax, &out.PermissionReviewOff, &out.DisclosureContact, &disclosure)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SecuritySettings{}, nil
	}
	if err != nil {
		return store.SecuritySettings{}, mapErr(err)
	}
	out.Require2FASince, out.GracePeriod, out.UpdatedAt = timeOf(since), time.Duration(grace), timeOf(updated)
	out.DisclosureExpires = timeOf(disclosure)
	out.LockoutThreshold, out.LockoutDuration, out.LockoutMax = int(lockThreshold), time.Duration(lockBase), time.Duration(lockMax)
	return out, nil
}

// PutSecuritySettings replaces the tenant's policy (one upsert); the tenant must exist
// (else ErrNotFound).
func (ss settingsStore) PutSecuritySettings(ctx context.Context, set store.SecuritySettings) error {
	_, err := ss.s.exec(ctx, `INSERT INTO tenant_settings (tenant_id, require_2fa, require_2fa_since,
			grace_period_ns, require_passkeys_admins, updated_at, updated_by, anomaly_action,
			lockout_threshold, lockout_base_ns, lockout_max_ns, permission_review_off,
			disclosure_contact, disclosure_expires)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET
			require_2fa = excluded.require_2fa, require_2fa_since = excluded.require_2fa_since,
			grace_period_ns = excluded.grace_period_ns,
			require_passkeys_admins = excluded.require_passkeys_admins,
			updated_at = excluded.updated_at, updated_by = excluded.updated_by,
			anomaly_action = excluded.anomaly_action, lockout_threshold = excluded.lockout_threshold,
			lockout_base_ns = excluded.lockout_base_ns, lockout_max_ns = excluded.lockout_max_ns,
			permission_review_off = excluded.permission_review_off,
			disclosure_contact = excluded.disclosure_contact, disclosure_expires = excluded.disclosure_expires`,
		ss.tenantID, set.Require2FA, timeArg(set.Require2FASince), int64(set.GracePeriod),
		set.RequirePasskeysForAdmins, timeArg(set.UpdatedAt), set.UpdatedBy, set.AnomalyAction,
		int64(set.LockoutThreshold), int64(set.LockoutDuration), int64(set.LockoutMax), set.PermissionReviewOff,
		set.DisclosureContact, timeArg(set.DisclosureExpires))
	return mapErr(err)
}

// RenameTenant sets the tenant's display name.
func (ss settingsStore) RenameTenant(ctx context.Context, name string) error {
	return oneRowOrNotFound(ss.s.exec(ctx, `UPDATE tenants SET name = ? WHERE id = ?`, name, ss.tenantID))
}

// Interface guards
var _ store.SettingsStore = settingsStore{}
