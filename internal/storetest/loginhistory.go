package storetest

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var loginHistoryTests = []test{
	{"RoundTrip", testLoginRoundTrip},
	{"LastIsLatest", testLoginLastIsLatest},
	{"LastLocated", testLoginLastLocated},
	{"Seen", testLoginSeen},
	{"PruneKeepsSeenFacts", testLoginPrune},
	{"Refusals", testLoginRefusals},
	{"OddValues", testLoginOddValues},
	{"Concurrent", testLoginConcurrent},
}

// checkLoginEvent compares every field; float fields compare NaN equal to NaN.
func checkLoginEvent(t *testing.T, what string, got, want store.LoginEvent) {
	t.Helper()
	sameFloat := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	if got.UserID != want.UserID || got.IP != want.IP || got.Country != want.Country || got.City != want.City ||
		!sameFloat(got.Lat, want.Lat) || !sameFloat(got.Lon, want.Lon) || !sameFloat(got.AccuracyKm, want.AccuracyKm) ||
		got.HasLocation != want.HasLocation || got.DeviceKey != want.DeviceKey || got.DeviceLabel != want.DeviceLabel {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" At", got.At, want.At)
	if got.At.Location() != time.UTC {
		t.Errorf("%s: At in %v, want UTC", what, got.At.Location())
	}
}

// loginEvent is a located sign-in of userID at at from device dev in country.
func loginEvent(userID string, at time.Time, dev, country string) store.LoginEvent {
	return store.LoginEvent{
		UserID: userID, At: at, IP: "198.51.100.7",
		Country: country, City: "City of " + country, Lat: 51.5142, Lon: -0.0931, AccuracyKm: 10, HasLocation: true,
		DeviceKey: dev, DeviceLabel: "Firefox on Linux",
	}
}

func addLogin(t *testing.T, h store.TenantHandle, e store.LoginEvent) {
	t.Helper()
	noErr(t, "AddLoginEvent", h.LoginHistory().AddLoginEvent(ctx(t), e))
}

func lastLogin(t *testing.T, h store.TenantHandle, userID string) store.LoginEvent {
	t.Helper()
	e, err := h.LoginHistory().LastLoginEvent(ctx(t), userID)
	noErr(t, "LastLoginEvent", err)
	return e
}

func wantSeen(t *testing.T, what string, h store.TenantHandle, userID, device, country string, devSeen, countrySeen bool) {
	t.Helper()
	d, err := h.LoginHistory().DeviceSeen(ctx(t), userID, device)
	noErr(t, what+": DeviceSeen", err)
	c, err := h.LoginHistory().CountrySeen(ctx(t), userID, country)
	noErr(t, what+": CountrySeen", err)
	if d != devSeen || c != countrySeen {
		t.Errorf("%s: DeviceSeen(%q)=%v CountrySeen(%q)=%v, want %v %v", what, device, d, country, c, devSeen, countrySeen)
	}
}

func testLoginRoundTrip(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	_, err := h.LoginHistory().LastLoginEvent(ctx(t), u.ID)
	wantErr(t, "LastLoginEvent before any sign-in", err, store.ErrNotFound)
	_, err = h.LoginHistory().LastLoginEvent(ctx(t), "us-missing")
	wantErr(t, "LastLoginEvent of unknown user", err, store.ErrNotFound)

	e := store.LoginEvent{
		UserID:      u.ID,
		At:          base.In(time.FixedZone("UTC-3", -3*3600)),
		IP:          "2001:db8::7",
		Country:     "NZ",
		City:        "Ōtautahi Christchurch",
		Lat:         -43.5320123456789,
		Lon:         172.6306,
		AccuracyKm:  0.5,
		HasLocation: true,
		DeviceKey:   "dk-" + randHex(32),
		DeviceLabel: "Safari on iPhone",
	}
	addLogin(t, h, e)
	checkLoginEvent(t, "LastLoginEvent", lastLogin(t, h, u.ID), e)

	// An event without a location or device, as a cookie-less sign-in from an
	// address GeoIP does not know would be recorded.
	bare := store.LoginEvent{UserID: u.ID, At: base.Add(time.Second), IP: "192.0.2.9"}
	addLogin(t, h, bare)
	checkLoginEvent(t, "LastLoginEvent without location", lastLogin(t, h, u.ID), bare)
}

// testLoginLastIsLatest: "last" is the greatest At, whatever the insertion order; of
// equal times, the event recorded later.
func testLoginLastIsLatest(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	late := loginEvent(u.ID, base.Add(time.Hour), "dev-late", "GB")
	addLogin(t, h, late)
	addLogin(t, h, loginEvent(u.ID, base, "dev-early", "FR")) // a delayed write from another instance
	checkLoginEvent(t, "after an older event arrived", lastLogin(t, h, u.ID), late)

	tie := loginEvent(u.ID, late.At, "dev-tie", "DE")
	addLogin(t, h, tie)
	checkLoginEvent(t, "of two events at one time", lastLogin(t, h, u.ID), tie)
	// A nanosecond later wins.
	later := loginEvent(u.ID, late.At.Add(time.Nanosecond), "dev-ns", "DE")
	addLogin(t, h, later)
	addLogin(t, h, loginEvent(u.ID, late.At, "dev-tie2", "DE"))
	checkLoginEvent(t, "one nanosecond later", lastLogin(t, h, u.ID), later)

	// Another user's events are not this user's.
	other := newUser(t, h)
	addLogin(t, h, loginEvent(other.ID, base.Add(24*time.Hour), "dev-other", "US"))
	checkLoginEvent(t, "with another user's later sign-in", lastLogin(t, h, u.ID), later)
}

func testLoginSeen(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)
	dev := "dk-" + randHex(32)
	wantSeen(t, "before any sign-in", h, u.ID, dev, "GB", false, false)

	addLogin(t, h, loginEvent(u.ID, base, dev, "GB"))
	wantSeen(t, "after a sign-in", h, u.ID, dev, "GB", true, true)
	wantSeen(t, "other device and country", h, u.ID, "dk-"+randHex(32), "FR", false, false)
	wantSeen(t, "country compared exactly", h, u.ID, dev, "gb", true, false)
	wantSeen(t, "another user of the tenant", h, other.ID, dev, "GB", false, false)
	wantSeen(t, "unknown user", h, "us-missing", dev, "GB", false, false)

	// An event without a device key or country records neither, and "" is never seen.
	addLogin(t, h, loginEvent(u.ID, base.Add(time.Minute), "", ""))
	wantSeen(t, "empty key and country", h, u.ID, "", "", false, false)
	addLogin(t, h, loginEvent(other.ID, base.Add(time.Minute), dev, ""))
	wantSeen(t, "other user after its own sign-in", h, other.ID, dev, "GB", true, false)
}

// testLoginPrune: only the latest store.LoginHistoryLimit events stay, but the devices
// and countries of pruned events stay seen.
func testLoginPrune(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	n := store.LoginHistoryLimit + 5
	var last store.LoginEvent
	for i := range n {
		last = loginEvent(u.ID, base.Add(time.Duration(i)*time.Minute), fmt.Sprintf("dev-%03d", i), fmt.Sprintf("C%d", i%7))
		addLogin(t, h, last)
	}
	checkLoginEvent(t, "last after pruning", lastLogin(t, h, u.ID), last)
	for _, i := range []int{0, 1, 4, n - 1} {
		wantSeen(t, fmt.Sprintf("device of event %d", i), h, u.ID, fmt.Sprintf("dev-%03d", i), fmt.Sprintf("C%d", i%7), true, true)
	}
	// An old event arriving late is pruned at once, yet its device is seen.
	addLogin(t, h, loginEvent(u.ID, base.Add(-time.Hour), "dev-stale", "XX"))
	checkLoginEvent(t, "last after a stale event", lastLogin(t, h, u.ID), last)
	wantSeen(t, "stale event's device", h, u.ID, "dev-stale", "XX", true, true)
}

func testLoginRefusals(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	err := h.LoginHistory().AddLoginEvent(ctx(t), loginEvent("us-missing", base, "dev", "GB"))
	wantErr(t, "AddLoginEvent for unknown user", err, store.ErrNotFound)
	wantSeen(t, "after the refused event", h, "us-missing", "dev", "GB", false, false)

	noTime := loginEvent(u.ID, time.Time{}, "dev", "GB")
	if err := h.LoginHistory().AddLoginEvent(ctx(t), noTime); err == nil {
		t.Error("AddLoginEvent accepted an event without a time")
	}
	_, err = h.LoginHistory().LastLoginEvent(ctx(t), u.ID)
	wantErr(t, "LastLoginEvent after refused events", err, store.ErrNotFound)
	wantSeen(t, "after refused events", h, u.ID, "dev", "GB", false, false)
}

// testLoginOddValues: coordinates GeoIP (or a bug) may produce round-trip as given,
// and client-controlled text is stored in a form both backends hold.
func testLoginOddValues(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	e := loginEvent(u.ID, base, "dev", "GB")
	e.Lat, e.Lon, e.AccuracyKm = math.NaN(), math.Inf(1), math.Inf(-1)
	addLogin(t, h, e)
	checkLoginEvent(t, "NaN and infinite coordinates", lastLogin(t, h, u.ID), e)

	e = loginEvent(u.ID, base.Add(time.Second), "dev", "GB")
	e.Lat, e.Lon, e.AccuracyKm, e.HasLocation = 0, 0, 0, false
	e.DeviceLabel = "bad\xff label with a \x00 byte"
	e.City = "São Paulo"
	addLogin(t, h, e)
	got := lastLogin(t, h, u.ID)
	if got.DeviceLabel == "" || got.DeviceLabel == e.DeviceLabel {
		// Stored, and in a form PostgreSQL accepts (not byte-identical).
		t.Errorf("device label with invalid UTF-8 came back as %q", got.DeviceLabel)
	}
	got.DeviceLabel = e.DeviceLabel
	checkLoginEvent(t, "zero location", got, e)
}

// testLoginConcurrent: simultaneous sign-ins of one user, while its history is at the
// limit and each insert prunes, all land and none fails on a lock.
func testLoginConcurrent(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	for i := range store.LoginHistoryLimit {
		addLogin(t, h, loginEvent(u.ID, base.Add(time.Duration(i)*time.Second), "dev-seq", "GB"))
	}
	const n = 8
	at := base.Add(time.Hour)
	events := make(chan store.LoginEvent, n)
	for i := range n {
		events <- loginEvent(u.ID, at.Add(time.Duration(i)*time.Second), fmt.Sprintf("dev-c%d", i), "FR")
	}
	close(events)
	errs := race(n, func() error {
		return h.LoginHistory().AddLoginEvent(ctx(t), <-events)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent AddLoginEvent: %v", err)
	}
	checkLoginEvent(t, "last after concurrent sign-ins", lastLogin(t, h, u.ID),
		loginEvent(u.ID, at.Add((n-1)*time.Second), fmt.Sprintf("dev-c%d", n-1), "FR"))
	for i := range n {
		wantSeen(t, "concurrent sign-in", h, u.ID, fmt.Sprintf("dev-c%d", i), "FR", true, true)
	}
}

func testLoginLastLocated(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, h)
	if _, err := h.LoginHistory().LastLocatedLoginEvent(ctx(t), u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no events: %v", err)
	}
	located := loginEvent(u.ID, base, "dev-a", "GB")
	addLogin(t, h, located)
	unknown := store.LoginEvent{UserID: u.ID, At: base.Add(time.Hour), IP: "1.1.1.1", DeviceKey: "dev-a", DeviceLabel: "Firefox on Linux"}
	addLogin(t, h, unknown)
	checkLoginEvent(t, "latest", lastLogin(t, h, u.ID), unknown)
	got, err := h.LoginHistory().LastLocatedLoginEvent(ctx(t), u.ID)
	noErr(t, "LastLocatedLoginEvent", err)
	checkLoginEvent(t, "latest located", got, located)
}
