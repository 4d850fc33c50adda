package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// PrivacyRequests returns the tenant's data-subject requests.
func (h handle) PrivacyRequests() store.PrivacyRequestStore { return privacyStore(h) }

// privacyStore is one tenant's data-subject requests. Every statement binds tenant_id.
type privacyStore handle

const privacyColumns = `id, user_id, kind, status, created_at, deadline, resolved_at, resolved_by, reason`

// privacySelect reads a request row (scanPrivacy), reminder times included.
const privacySelect = `SELECT ` + privacyColumns + `, reminded_7d_at, reminded_2d_at FROM privacy_requests`

// CreatePrivacyRequest stores r under the handle's tenant; a taken id is ErrConflict.
func (ps privacyStore) CreatePrivacyRequest(ctx context.Context, r store.PrivacyRequest) error {
	created, err := requiredTime("privacy request creation time", r.CreatedAt)
	if err != nil {
		return err
	}
	deadline, err := requiredTime("privacy request deadline", r.Deadline)
	if err != nil {
		return err
	}
	_, err = ps.s.exec(ctx, `INSERT INTO privacy_requests (tenant_id, `+privacyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ps.tenantID, r.ID, r.UserID, r.Kind, r.Status, created, deadline, timeArg(r.ResolvedAt), r.ResolvedBy, r.Reason)
	return err
}

// PrivacyRequestByID finds one request of the tenant.
func (ps privacyStore) PrivacyRequestByID(ctx context.Context, id string) (store.PrivacyRequest, error) {
	s := ps.s
	r, err := scanPrivacy(s.db.QueryRowContext(ctx, s.q(privacySelect+` WHERE tenant_id = ? AND id = ?`), ps.tenantID, id))
	r.TenantID = ps.tenantID
	return r, err
}

// ListPrivacyRequests returns the tenant's requests (or one member's), newest first.
func (ps privacyStore) ListPrivacyRequests(ctx context.Context, userID string) ([]store.PrivacyRequest, error) {
	s := ps.s
	query, args := privacySelect+` WHERE tenant_id = ?`, []any{ps.tenantID}
	if userID != "" {
		query, args = query+` AND user_id = ?`, append(args, userID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY created_at DESC, id DESC`), args...)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []store.PrivacyRequest
	for rows.Next() {
		r, err := scanPrivacy(rows)
		if err != nil {
			return nil, err
		}
		r.TenantID = ps.tenantID
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// ResolvePrivacyRequest closes an open request in one conditional UPDATE, so that of
// concurrent resolutions exactly one finds it open.
func (ps privacyStore) ResolvePrivacyRequest(ctx context.Context, id, status, by, reason string, at time.Time) error {
	if status != store.RequestFulfilled && status != store.RequestRefused {
		return fmt.Errorf("sqlstore: resolving a privacy request as %q", status)
	}
	when, err := requiredTime("privacy request resolution time", at)
	if err != nil {
		return err
	}
	res, err := ps.s.exec(ctx, `UPDATE privacy_requests SET status = ?, resolved_at = ?, resolved_by = ?, reason = ?
		WHERE tenant_id = ? AND id = ? AND status = ?`, status, when, by, reason, ps.tenantID, id, store.RequestOpen)
	return oneRow(res, err, store.ErrNotFound)
}

// reminderColumn names the column that records a reminder.
func reminderColumn(reminder string) (string, error) {
	switch reminder {
	case store.Reminder7Days:
		return "reminded_7d_at", nil
	case store.Reminder2Days:
		return "reminded_2d_at", nil
	}
	return "", fmt.Errorf("sqlstore: no reminder %q", reminder)
}

// ClaimReminder is one conditional UPDATE: of concurrent claims exactly one finds
// the column still NULL.
func (ps privacyStore) ClaimReminder(ctx context.Context, id, reminder string, at time.Time) (bool, error) {
	col, err := reminderColumn(reminder)
	if err != nil {
		return false, err
	}
	when, err := requiredTime("reminder time", at)
	if err != nil {
		return false, err
	}
	res, err := ps.s.exec(ctx, `UPDATE privacy_requests SET `+col+` = ?
		WHERE tenant_id = ? AND id = ? AND status = ? AND `+col+` IS NULL`, when, ps.tenantID, id, store.RequestOpen)
	if err := oneRow(res, err, store.ErrNotFound); errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// ReleaseReminder clears a claim.
func (ps privacyStore) ReleaseReminder(ctx context.Context, id, reminder string) error {
	col, err := reminderColumn(reminder)
	if err != nil {
		return err
	}
	_, err = ps.s.exec(ctx, `UPDATE privacy_requests SET `+col+` = NULL WHERE tenant_id = ? AND id = ?`, ps.tenantID, id)
	return err
}

func scanPrivacy(sc scanner) (store.PrivacyRequest, error) {
	var r store.PrivacyRequest
	var created, deadline, resolved, r7, r2 sql.NullInt64
	if err := sc.Scan(&r.ID, &r.UserID, &r.Kind, &r.Status, &created, &deadline, &resolved, &r.ResolvedBy, &r.Reason, &r7, &r2); err != nil {
		return store.PrivacyRequest{}, mapErr(err)
	}
	r.CreatedAt, r.Deadline, r.ResolvedAt = timeOf(created), timeOf(deadline), timeOf(resolved)
	r.Reminded7d, r.Reminded2d = timeOf(r7), timeOf(r2)
	return r, nil
}

// Interface guards
var _ store.PrivacyRequestStore = privacyStore{}
