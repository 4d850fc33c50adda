package sqlstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestTwoStoresOneLease: instances that share a database (two Store values opened
// separately, as two gateway processes would) race for one lease; exactly one gets
// it, first while it is free and then once it has ended.
func TestTwoStoresOneLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		now := time.Now()
		for round := range 5 {
			name := fmt.Sprintf("purge-%d", round)
			for _, at := range []time.Time{now, now.Add(2 * time.Minute)} { // free, then ended
				var wins atomic.Int64
				var wg sync.WaitGroup
				errs := make(chan error, 20)
				start := make(chan struct{})
				for i := range 20 {
					m := []*Store{s1, s2}[i%2].Maintenance()
					wg.Go(func() {
						<-start
						ok, err := m.AcquireLease(t.Context(), name, fmt.Sprintf("instance-%d-%v", i, at.UnixNano()), time.Minute, at)
						if err != nil {
							errs <- err
						}
						if ok {
							wins.Add(1)
						}
					})
				}
				close(start)
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Fatalf("AcquireLease: %v", err)
				}
				if n := wins.Load(); n != 1 {
					t.Fatalf("round %d at %v: %d instances got the lease, want exactly 1", round, at, n)
				}
			}
		}
	})
}

// TestTwoStoresLastOwner: two owners demote each other through two separately opened
// stores; the guard holds across instances (on SQLite the in-process write mutex
// cannot help here, the database's write lock must).
func TestTwoStoresLastOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		dsn := b.newDSN(t)
		s1, s2 := openT(t, dsn), openT(t, dsn)
		for round := range 8 {
			h := newTenant(t, s1)
			for _, id := range []string{"x", "y"} {
				if err := h.Users().CreateUser(t.Context(), store.User{ID: id, Email: id + "@example.test",
					Status: store.UserActive, Roles: []string{"owner"}}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			errs := make([]error, 2)
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				errs[0] = s1.Tenant(h.TenantID()).Users().SetRoles(t.Context(), "y", nil)
			})
			wg.Go(func() {
				<-start
				errs[1] = s2.Tenant(h.TenantID()).Users().SetStatus(t.Context(), "x", store.UserDisabled)
			})
			close(start)
			wg.Wait()
			ok, refused := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, store.ErrLastOwner):
					refused++
				default:
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if ok != 1 || refused != 1 {
				t.Fatalf("round %d: %d changes succeeded, %d refused; want 1 and 1 (%v)", round, ok, refused, errs)
			}
		}
	})
}

// TestLeaseArguments: a lease needs a name, a holder, a positive ttl and a time.
func TestLeaseArguments(t *testing.T) {
	s := openT(t, "sqlite::memory:")
	m := s.Maintenance()
	now := time.Now()
	for what, call := range map[string]func() (bool, error){
		"no name":   func() (bool, error) { return m.AcquireLease(t.Context(), "", "a", time.Minute, now) },
		"no holder": func() (bool, error) { return m.AcquireLease(t.Context(), "n", "", time.Minute, now) },
		"zero ttl":  func() (bool, error) { return m.AcquireLease(t.Context(), "n", "a", 0, now) },
		"no time":   func() (bool, error) { return m.AcquireLease(t.Context(), "n", "a", time.Minute, time.Time{}) },
	} {
		if ok, err := call(); ok || err == nil {
			t.Errorf("%s: AcquireLease = %v, %v; want an error", what, ok, err)
		}
	}
}
