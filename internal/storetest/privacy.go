package storetest

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Data-subject requests (issue 12 §3): stored with their deadline, listed newest
// first, resolved once.
var privacyTests = []test{
	{"RoundTripAndList", testPrivacyRoundTrip},
	{"ResolveOnce", testPrivacyResolveOnce},
	{"ConcurrentResolve", testPrivacyConcurrentResolve},
	{"OtherTenant", testPrivacyOtherTenant},
	{"OutlivesPurgedUser", testPrivacyOutlivesPurge},
	{"ReminderOnce", testPrivacyReminderOnce},
	{"ConcurrentReminder", testPrivacyConcurrentReminder},
}

// newRequest stores an open request of userID of kind, created at created.
func newRequest(t *testing.T, h store.TenantHandle, userID, kind string, created time.Time) store.PrivacyRequest {
	t.Helper()
	r := store.PrivacyRequest{ID: "pr-" + randHex(6), UserID: userID, Kind: kind, Status: store.RequestOpen,
		CreatedAt: created, Deadline: created.Add(store.PrivacyRequestDeadline)}
	noErr(t, "CreatePrivacyRequest", h.PrivacyRequests().CreatePrivacyRequest(ctx(t), r))
	r.TenantID = h.TenantID()
	return r
}

func testPrivacyRoundTrip(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	a, b := newUser(t, h), newUser(t, h)
	older := newRequest(t, h, a.ID, store.RequestErasure, base)
	newer := newRequest(t, h, b.ID, store.RequestAccess, base.Add(time.Hour))
	third := newRequest(t, h, a.ID, store.RequestRestriction, base.Add(2*time.Hour))

	got, err := h.PrivacyRequests().PrivacyRequestByID(ctx(t), older.ID)
	noErr(t, "PrivacyRequestByID", err)
	if got.UserID != a.ID || got.Kind != store.RequestErasure || got.Status != store.RequestOpen || got.TenantID != h.TenantID() ||
		!got.ResolvedAt.IsZero() || got.ResolvedBy != "" || got.Reason != "" {
		t.Errorf("read back %+v, want %+v", got, older)
	}
	sameTime(t, "CreatedAt", got.CreatedAt, base)
	sameTime(t, "Deadline", got.Deadline, base.Add(30*24*time.Hour))

	all, err := h.PrivacyRequests().ListPrivacyRequests(ctx(t), "")
	noErr(t, "ListPrivacyRequests", err)
	if ids := requestIDs(all); len(ids) != 3 || ids[0] != third.ID || ids[1] != newer.ID || ids[2] != older.ID {
		t.Errorf("ListPrivacyRequests = %v, want newest first [%s %s %s]", ids, third.ID, newer.ID, older.ID)
	}
	mine, err := h.PrivacyRequests().ListPrivacyRequests(ctx(t), a.ID)
	noErr(t, "ListPrivacyRequests(a)", err)
	if ids := requestIDs(mine); len(ids) != 2 || ids[0] != third.ID || ids[1] != older.ID {
		t.Errorf("ListPrivacyRequests(a) = %v, want [%s %s]", ids, third.ID, older.ID)
	}
	_, err = h.PrivacyRequests().PrivacyRequestByID(ctx(t), "pr-none")
	wantErr(t, "PrivacyRequestByID of an unknown id", err, store.ErrNotFound)
	wantErr(t, "CreatePrivacyRequest with a taken id", h.PrivacyRequests().CreatePrivacyRequest(ctx(t), older), store.ErrConflict)
}

func requestIDs(rs []store.PrivacyRequest) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

func testPrivacyResolveOnce(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	r := newRequest(t, h, u.ID, store.RequestErasure, base)
	ps := h.PrivacyRequests()
	at := base.Add(48 * time.Hour)
	noErr(t, "ResolvePrivacyRequest", ps.ResolvePrivacyRequest(ctx(t), r.ID, store.RequestRefused, "us-admin", "legal hold", at))
	got, err := ps.PrivacyRequestByID(ctx(t), r.ID)
	noErr(t, "PrivacyRequestByID", err)
	if got.Status != store.RequestRefused || got.ResolvedBy != "us-admin" || got.Reason != "legal hold" {
		t.Errorf("resolved request = %+v", got)
	}
	sameTime(t, "ResolvedAt", got.ResolvedAt, at)
	// A resolved request stays as it was resolved.
	wantErr(t, "resolving twice", ps.ResolvePrivacyRequest(ctx(t), r.ID, store.RequestFulfilled, "us-other", "", at), store.ErrNotFound)
	if again, _ := ps.PrivacyRequestByID(ctx(t), r.ID); again.Status != store.RequestRefused || again.ResolvedBy != "us-admin" {
		t.Errorf("after a second resolution: %+v, want the first one kept", again)
	}
	wantErr(t, "resolving an unknown id", ps.ResolvePrivacyRequest(ctx(t), "pr-none", store.RequestFulfilled, "x", "", at), store.ErrNotFound)
	if err := ps.ResolvePrivacyRequest(ctx(t), newRequest(t, h, u.ID, store.RequestAccess, base).ID, store.RequestOpen, "x", "", at); err == nil {
		t.Error("resolving to status open succeeded")
	}
}

func testPrivacyConcurrentResolve(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	for range raceRounds {
		r := newRequest(t, h, u.ID, store.RequestErasure, base)
		errs := raceEach(
			func() error {
				return h.PrivacyRequests().ResolvePrivacyRequest(ctx(t), r.ID, store.RequestFulfilled, "a", "", base)
			},
			func() error {
				return h.PrivacyRequests().ResolvePrivacyRequest(ctx(t), r.ID, store.RequestRefused, "b", "no", base)
			},
		)
		exactlyOneWins(t, "concurrent resolutions", errs, store.ErrNotFound)
	}
}

func testPrivacyOtherTenant(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	b := st.Tenant(newTenant(t, st).ID)
	r := newRequest(t, a, newUser(t, a).ID, store.RequestAccess, base)
	_, err := b.PrivacyRequests().PrivacyRequestByID(ctx(t), r.ID)
	wantErr(t, "B: PrivacyRequestByID of A's request", err, store.ErrNotFound)
	wantErr(t, "B: resolving A's request", b.PrivacyRequests().ResolvePrivacyRequest(ctx(t), r.ID, store.RequestRefused, "x", "", base), store.ErrNotFound)
	if list, err := b.PrivacyRequests().ListPrivacyRequests(ctx(t), ""); err != nil || len(list) != 0 {
		t.Errorf("B: ListPrivacyRequests = %v, %v; want none", list, err)
	}
	if got, _ := a.PrivacyRequests().PrivacyRequestByID(ctx(t), r.ID); got.Status != store.RequestOpen {
		t.Errorf("A's request after B's attempt: %+v", got)
	}
}

// testPrivacyOutlivesPurge: purging the member who asked for erasure leaves the
// request (named by id only), so that the workspace can show it was fulfilled.
func testPrivacyOutlivesPurge(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	newUser(t, h) // another member, so the tenant is not emptied
	u := newUser(t, h)
	r := newRequest(t, h, u.ID, store.RequestErasure, base)
	deleteUser(t, h, u.ID, base)
	noErr(t, "PurgeUser", h.Users().PurgeUser(ctx(t), u.ID, base.Add(time.Second)))
	noErr(t, "ResolvePrivacyRequest", h.PrivacyRequests().ResolvePrivacyRequest(ctx(t), r.ID, store.RequestFulfilled, "us-admin", "", base))
	if got, err := h.PrivacyRequests().PrivacyRequestByID(ctx(t), r.ID); err != nil || got.Status != store.RequestFulfilled || got.UserID != u.ID {
		t.Errorf("request after the purge = %+v, %v", got, err)
	}
}

// testPrivacyReminderOnce: each reminder of an open request is claimed once, kept
// with the request, and can be released for a retry; a resolved request gets none.
func testPrivacyReminderOnce(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	r := newRequest(t, h, u.ID, store.RequestErasure, base)
	ps := h.PrivacyRequests()
	at := base.Add(23 * 24 * time.Hour)
	claim := func(what, reminder string, want bool) {
		t.Helper()
		got, err := ps.ClaimReminder(ctx(t), r.ID, reminder, at)
		noErr(t, what, err)
		if got != want {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
	claim("ClaimReminder 7d", store.Reminder7Days, true)
	claim("ClaimReminder 7d again", store.Reminder7Days, false)
	got, err := ps.PrivacyRequestByID(ctx(t), r.ID)
	noErr(t, "PrivacyRequestByID", err)
	if !got.Reminded7d.Equal(at) || !got.Reminded2d.IsZero() {
		t.Fatalf("after the 7-day reminder: 7d %v, 2d %v", got.Reminded7d, got.Reminded2d)
	}
	noErr(t, "ReleaseReminder", ps.ReleaseReminder(ctx(t), r.ID, store.Reminder7Days))
	claim("ClaimReminder 7d after the release", store.Reminder7Days, true)
	claim("ClaimReminder 2d", store.Reminder2Days, true)
	list, err := ps.ListPrivacyRequests(ctx(t), "")
	noErr(t, "ListPrivacyRequests", err)
	if len(list) != 1 || !list[0].Reminded7d.Equal(at) || !list[0].Reminded2d.Equal(at) {
		t.Fatalf("listed after both reminders: %+v", list)
	}
	if _, err := ps.ClaimReminder(ctx(t), r.ID, "tomorrow", at); err == nil {
		t.Error("ClaimReminder of an unknown reminder succeeded")
	}
	done := newRequest(t, h, u.ID, store.RequestRestriction, base)
	noErr(t, "ResolvePrivacyRequest", ps.ResolvePrivacyRequest(ctx(t), done.ID, store.RequestFulfilled, "us-a", "", base))
	if ok, err := ps.ClaimReminder(ctx(t), done.ID, store.Reminder2Days, at); err != nil || ok {
		t.Errorf("ClaimReminder of a resolved request = %v, %v; want false", ok, err)
	}
	other := st.Tenant(newTenant(t, st).ID)
	if ok, err := other.PrivacyRequests().ClaimReminder(ctx(t), newRequest(t, h, u.ID, store.RequestAccess, base).ID, store.Reminder7Days, at); err != nil || ok {
		t.Errorf("another tenant claimed a reminder of this one's request: %v, %v", ok, err)
	}
}

func testPrivacyConcurrentReminder(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	for range raceRounds {
		r := newRequest(t, h, u.ID, store.RequestErasure, base)
		claim := func() error {
			ok, err := h.PrivacyRequests().ClaimReminder(ctx(t), r.ID, store.Reminder2Days, base)
			if err == nil && !ok {
				return store.ErrConflict
			}
			return err
		}
		exactlyOneWins(t, "concurrent reminder claims", raceEach(claim, claim, claim), store.ErrConflict)
	}
}
