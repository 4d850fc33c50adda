package sqlstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestLoginHistoryPruned counts the stored rows, which the store interface does not
// show: a user keeps exactly the latest store.LoginHistoryLimit events, every device
// and country fact stays, and other users' events are not pruned with theirs.
func TestLoginHistoryPruned(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		for _, id := range []string{"u1", "u2"} {
			if err := h.Users().CreateUser(t.Context(), store.User{ID: id, Email: id + "@example.test", Status: store.UserActive}); err != nil {
				t.Fatal(err)
			}
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		add := func(user string, i int) {
			t.Helper()
			e := store.LoginEvent{UserID: user, At: at.Add(time.Duration(i) * time.Minute),
				Country: fmt.Sprintf("C%d", i%3), DeviceKey: fmt.Sprintf("dev-%d", i)}
			if err := h.LoginHistory().AddLoginEvent(t.Context(), e); err != nil {
				t.Fatalf("AddLoginEvent %s #%d: %v", user, i, err)
			}
		}
		for i := range 3 {
			add("u2", i)
		}
		const n = store.LoginHistoryLimit + 20
		for i := range n {
			add("u1", i)
		}
		count := func(query, user string) int {
			t.Helper()
			var c int
			if err := s.db.QueryRowContext(t.Context(), s.q(query), h.TenantID(), user).Scan(&c); err != nil {
				t.Fatal(err)
			}
			return c
		}
		events := `SELECT COUNT(*) FROM login_events WHERE tenant_id = ? AND user_id = ?`
		if c := count(events, "u1"); c != store.LoginHistoryLimit {
			t.Errorf("u1 has %d events stored, want %d", c, store.LoginHistoryLimit)
		}
		var oldest int64
		if err := s.db.QueryRowContext(t.Context(), s.q(`SELECT MIN(at) FROM login_events WHERE tenant_id = ? AND user_id = ?`),
			h.TenantID(), "u1").Scan(&oldest); err != nil {
			t.Fatal(err)
		}
		if want := at.Add((n - store.LoginHistoryLimit) * time.Minute).UnixNano(); oldest != want {
			t.Errorf("oldest kept event at %d, want %d (the latest ones kept)", oldest, want)
		}
		if c := count(events, "u2"); c != 3 {
			t.Errorf("u2 has %d events stored, want 3", c)
		}
		if c := count(`SELECT COUNT(*) FROM login_devices WHERE tenant_id = ? AND user_id = ?`, "u1"); c != n {
			t.Errorf("u1 has %d devices stored, want %d", c, n)
		}
		if c := count(`SELECT COUNT(*) FROM login_countries WHERE tenant_id = ? AND user_id = ?`, "u1"); c != 3 {
			t.Errorf("u1 has %d countries stored, want 3", c)
		}
	})
}

// TestLoginSeenTimes: a device's first and last sighting widen with each event,
// whatever order events arrive in, and its label is that of the latest sign-in.
func TestLoginSeenTimes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := openT(t, b.newDSN(t))
		h := newTenant(t, s)
		if err := h.Users().CreateUser(t.Context(), store.User{ID: "u1", Email: "u1@example.test", Status: store.UserActive}); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
		for _, ev := range []struct {
			d     time.Duration
			label string
		}{{time.Hour, "B"}, {0, "A"}, {2 * time.Hour, "C"}, {30 * time.Minute, "late"}} {
			e := store.LoginEvent{UserID: "u1", At: at.Add(ev.d), Country: "GB", DeviceKey: "dev", DeviceLabel: ev.label}
			if err := h.LoginHistory().AddLoginEvent(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		var label string
		var first, last int64
		if err := s.db.QueryRowContext(t.Context(), s.q(`SELECT label, first_seen, last_seen FROM login_devices
			WHERE tenant_id = ? AND user_id = ? AND device_key = ?`), h.TenantID(), "u1", "dev").Scan(&label, &first, &last); err != nil {
			t.Fatal(err)
		}
		if label != "C" || first != at.UnixNano() || last != at.Add(2*time.Hour).UnixNano() {
			t.Errorf("device: label %q first %d last %d; want C, %d, %d", label, first, last, at.UnixNano(), at.Add(2*time.Hour).UnixNano())
		}
		if err := s.db.QueryRowContext(t.Context(), s.q(`SELECT first_seen, last_seen FROM login_countries
			WHERE tenant_id = ? AND user_id = ? AND country = ?`), h.TenantID(), "u1", "GB").Scan(&first, &last); err != nil {
			t.Fatal(err)
		}
		if first != at.UnixNano() || last != at.Add(2*time.Hour).UnixNano() {
			t.Errorf("country: first %d last %d", first, last)
		}
	})
}

// TestUpgradeToOutboxAndHistory builds a version-3 database with a user in it, then
// opens it with this build: migrations 4 and 5 apply on top, and the new tables work
// for the existing user.
func TestUpgradeToOutboxAndHistory(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		old, err := open(t.Context(), dsn, 3)
		if err != nil {
			t.Fatalf("open at version 3: %v", err)
		}
		h := newTenant(t, old)
		insertOldUser(t, old, h.TenantID(), "u1", "a@example.test")
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		s := openT(t, dsn)
		lh := s.Tenant(h.TenantID()).LoginHistory()
		if err := lh.AddLoginEvent(t.Context(), store.LoginEvent{UserID: "u1", At: time.Now(), DeviceKey: "d"}); err != nil {
			t.Fatalf("AddLoginEvent after upgrade: %v", err)
		}
		if seen, err := lh.DeviceSeen(t.Context(), "u1", "d"); err != nil || !seen {
			t.Fatalf("DeviceSeen after upgrade: %v, %v", seen, err)
		}
		wantOutboxDepth(t, s.Outbox(), 0)
	})
}
