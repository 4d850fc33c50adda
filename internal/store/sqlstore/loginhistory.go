package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// loginHistoryStore is one tenant's sign-in history. Every statement binds tenant_id.
type loginHistoryStore handle

// loginHistoryLockClass is the first key of the PostgreSQL advisory lock that
// serialises one user's AddLoginEvent calls (the second key hashes tenant and user),
// so that concurrent prunes of one user's events neither deadlock nor leave more
// than the limit behind. It spells "ghl" (hex 67686c); see auditLockClass.
const loginHistoryLockClass int32 = 0x67686c

const loginEventColumns = `user_id, at, ip, country, city, lat, lon, accuracy_km, has_location, device_key, device_label`

// floatArg stores NaN as NULL: SQLite turns a bound NaN into NULL anyway, so doing it
// on both backends keeps them alike; floatOf reads NULL back as NaN.
func floatArg(f float64) sql.NullFloat64 {
	if math.IsNaN(f) {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: f, Valid: true}
}

func floatOf(n sql.NullFloat64) float64 {
	if !n.Valid {
		return math.NaN()
	}
	return n.Float64
}

// AddLoginEvent records e, marks its device and country seen, and prunes the user's
// events beyond store.LoginHistoryLimit, in one transaction. The user must exist in
// this tenant (foreign key), else ErrNotFound.
func (ls loginHistoryStore) AddLoginEvent(ctx context.Context, e store.LoginEvent) error {
	s := ls.s
	at, err := requiredTime("sign-in time", e.At)
	if err != nil {
		return err
	}
	e.IP, e.Country, e.City = cleanText(e.IP), cleanText(e.Country), cleanText(e.City)
	e.DeviceKey, e.DeviceLabel = cleanText(e.DeviceKey), cleanText(e.DeviceLabel)
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if s.dialect == postgresDialect {
			// Released at commit or rollback. A hash collision (or an ambiguous
			// join of the two ids) only makes two users' sign-ins wait for each other.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`,
				loginHistoryLockClass, ls.tenantID+"\n"+e.UserID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO login_events (tenant_id, `+loginEventColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ls.tenantID, e.UserID, at, e.IP, e.Country, e.City,
			floatArg(e.Lat), floatArg(e.Lon), floatArg(e.AccuracyKm), e.HasLocation, e.DeviceKey, e.DeviceLabel); err != nil {
			return err
		}
		// The seen facts widen to [earliest, latest] sign-in, whatever order events
		// arrive in; a device's label is the one of its latest sign-in. (SET
		// expressions read the row as it was before the update, on both databases.)
		if e.DeviceKey != "" {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO login_devices (tenant_id, user_id, device_key, label, first_seen, last_seen)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, user_id, device_key) DO UPDATE SET
					first_seen = CASE WHEN excluded.first_seen < login_devices.first_seen THEN excluded.first_seen ELSE login_devices.first_seen END,
					last_seen = CASE WHEN excluded.last_seen > login_devices.last_seen THEN excluded.last_seen ELSE login_devices.last_seen END,
					label = CASE WHEN excluded.last_seen >= login_devices.last_seen THEN excluded.label ELSE login_devices.label END`),
				ls.tenantID, e.UserID, e.DeviceKey, e.DeviceLabel, at, at); err != nil {
				return err
			}
		}
		if e.Country != "" {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO login_countries (tenant_id, user_id, country, first_seen, last_seen)
				VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (tenant_id, user_id, country) DO UPDATE SET
					first_seen = CASE WHEN excluded.first_seen < login_countries.first_seen THEN excluded.first_seen ELSE login_countries.first_seen END,
					last_seen = CASE WHEN excluded.last_seen > login_countries.last_seen THEN excluded.last_seen ELSE login_countries.last_seen END`),
				ls.tenantID, e.UserID, e.Country, at, at); err != nil {
				return err
			}
		}
		// Keep the latest events in LastLoginEvent's order. The user has at most
		// limit+1 rows here, all in one index range.
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM login_events WHERE tenant_id = ? AND user_id = ? AND id NOT IN (
			SELECT id FROM login_events WHERE tenant_id = ? AND user_id = ? ORDER BY at DESC, id DESC LIMIT ?)`),
			ls.tenantID, e.UserID, ls.tenantID, e.UserID, store.LoginHistoryLimit)
		return err
	})
}

// LastLoginEvent returns the user's latest event: greatest At, then latest recorded.
func (ls loginHistoryStore) LastLoginEvent(ctx context.Context, userID string) (store.LoginEvent, error) {
	return ls.last(ctx, userID, "")
}

// LastLocatedLoginEvent returns the user's latest event that has a location.
func (ls loginHistoryStore) LastLocatedLoginEvent(ctx context.Context, userID string) (store.LoginEvent, error) {
	return ls.last(ctx, userID, " AND has_location = ?")
}

func (ls loginHistoryStore) last(ctx context.Context, userID, cond string) (store.LoginEvent, error) {
	s := ls.s
	var e store.LoginEvent
	var at int64
	var lat, lon, acc sql.NullFloat64
	args := []any{ls.tenantID, userID}
	if cond != "" {
		args = append(args, true)
	}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT `+loginEventColumns+` FROM login_events
		WHERE tenant_id = ? AND user_id = ?`+cond+` ORDER BY at DESC, id DESC LIMIT 1`), args...).
		Scan(&e.UserID, &at, &e.IP, &e.Country, &e.City, &lat, &lon, &acc, &e.HasLocation, &e.DeviceKey, &e.DeviceLabel)
	if err != nil {
		return store.LoginEvent{}, mapErr(err)
	}
	e.At = timeOf(sql.NullInt64{Int64: at, Valid: true})
	e.Lat, e.Lon, e.AccuracyKm = floatOf(lat), floatOf(lon), floatOf(acc)
	return e, nil
}

// DeviceSeen tells whether the user signed in with deviceKey before ("" never).
func (ls loginHistoryStore) DeviceSeen(ctx context.Context, userID, deviceKey string) (bool, error) {
	if deviceKey == "" {
		return false, nil
	}
	return ls.exists(ctx, `SELECT 1 FROM login_devices WHERE tenant_id = ? AND user_id = ? AND device_key = ?`, userID, deviceKey)
}

// CountrySeen tells whether the user signed in from country before ("" never).
func (ls loginHistoryStore) CountrySeen(ctx context.Context, userID, country string) (bool, error) {
	if country == "" {
		return false, nil
	}
	return ls.exists(ctx, `SELECT 1 FROM login_countries WHERE tenant_id = ? AND user_id = ? AND country = ?`, userID, country)
}

// exists runs a one-row probe of the handle's tenant.
func (ls loginHistoryStore) exists(ctx context.Context, query, userID, key string) (bool, error) {
	s := ls.s
	var one int
	err := s.db.QueryRowContext(ctx, s.q(query), ls.tenantID, userID, cleanText(key)).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, mapErr(err)
	}
	return true, nil
}

// Interface guards
var _ store.LoginHistoryStore = loginHistoryStore{}
