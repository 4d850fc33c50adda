package risk

import (
	"math"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

var (
	london  = Location{Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, AccuracyKm: 10}
	milton  = Location{Country: "US", City: "Milton", Lat: 47.2513, Lon: -122.3149, AccuracyKm: 22}
	boxford = Location{Country: "GB", City: "Boxford", Lat: 51.75, Lon: -1.25, AccuracyKm: 100}
)

func at(loc Location, d time.Duration) Event {
	return Event{At: t0.Add(d), Loc: loc, HasLoc: true, DeviceKey: "dev"}
}

func noLoc(d time.Duration) Event { return Event{At: t0.Add(d), DeviceKey: "dev"} }

// seen is the store's answer for a returning user on a known device in a known country.
var seen = Known{DeviceSeen: true, CountrySeen: true}

func TestAssess(t *testing.T) {
	t.Parallel()
	// Two points 300 km apart along the equator, 10 minutes apart: 1800 km/h taken
	// at face value, but each is only known to within 200 km.
	west := Location{Country: "EC", Lat: 0, Lon: -78, AccuracyKm: 200}
	east := Location{Country: "EC", Lat: 0, Lon: -78 + 300/111.195, AccuracyKm: 200}
	westExact, eastExact := west, east
	westExact.AccuracyKm, eastExact.AccuracyKm = 0, 0

	londonEvent := at(london, 0)
	tests := []struct {
		name  string
		prev  *Event
		cur   Event
		known Known
		cfg   Config
		want  []string
	}{
		{"first sign-in ever raises nothing, even far away on a new device",
			nil, at(milton, time.Minute), Known{FirstSignIn: true}, Config{}, nil},
		{"first sign-in wins over a stray previous event",
			&londonEvent, at(milton, time.Minute), Known{FirstSignIn: true}, Config{}, nil},
		{"returning user, same place", &londonEvent, at(london, time.Hour), seen, Config{}, nil},
		{"new device", &londonEvent, at(london, time.Hour), Known{CountrySeen: true}, Config{}, []string{KindNewDevice}},
		{"London then Milton within an hour: impossible travel",
			&londonEvent, at(milton, 50*time.Minute), seen, Config{}, []string{KindImpossibleTravel}},
		{"London then Milton, country never seen: new country too",
			&londonEvent, at(milton, 50*time.Minute), Known{DeviceSeen: true}, Config{}, []string{KindNewCountry, KindImpossibleTravel}},
		{"London then Milton a day later: a flight, only the country is new",
			&londonEvent, at(milton, 24*time.Hour), Known{DeviceSeen: true}, Config{}, []string{KindNewCountry}},
		{"London then Milton in 10 hours is airliner speed",
			&londonEvent, at(milton, 10*time.Hour), seen, Config{}, nil},
		{"... but not under a stricter limit",
			&londonEvent, at(milton, 10*time.Hour), seen, Config{MaxSpeedKmh: 500}, []string{KindImpossibleTravel}},
		{"London then Boxford 30 minutes later: nothing",
			&londonEvent, at(boxford, 30*time.Minute), Known{DeviceSeen: true}, Config{}, nil},
		{"same country as last time is never new, whatever the store says",
			&londonEvent, at(boxford, 30*time.Minute), Known{DeviceSeen: true, CountrySeen: false}, Config{}, nil},
		{"unknown current location: no location alarm",
			&londonEvent, noLoc(time.Minute), Known{DeviceSeen: true}, Config{}, nil},
		{"unknown previous location: no location alarm",
			ptr(noLoc(0)), at(milton, time.Minute), Known{DeviceSeen: true}, Config{}, nil},
		{"unknown location still reports a new device",
			&londonEvent, noLoc(time.Minute), Known{}, Config{}, []string{KindNewDevice}},
		{"no previous event recorded: device only",
			nil, at(milton, time.Minute), Known{}, Config{}, []string{KindNewDevice}},
		{"accuracy radius prevents a false alarm for nearby points reported far apart",
			ptr(at(west, 0)), at(east, 10*time.Minute), seen, Config{}, nil},
		{"the same points taken as exact would be impossible",
			ptr(at(westExact, 0)), at(eastExact, 10*time.Minute), seen, Config{}, []string{KindImpossibleTravel}},
		{"simultaneous sign-ins far apart are impossible",
			&londonEvent, at(milton, 0), seen, Config{}, []string{KindImpossibleTravel}},
		{"a clock that went backwards counts as simultaneous",
			&londonEvent, at(milton, -time.Minute), seen, Config{}, []string{KindImpossibleTravel}},
		{"simultaneous sign-ins within the accuracy circles are fine",
			&londonEvent, at(boxford, 0), seen, Config{}, nil},
		{"bad coordinates never turn into an alarm",
			&londonEvent, at(Location{Country: "US", Lat: math.NaN(), Lon: 0}, time.Minute), seen, Config{}, nil},
		{"out-of-range coordinates never turn into an alarm",
			&londonEvent, at(Location{Country: "US", Lat: 95, Lon: 0}, time.Minute), seen, Config{}, nil},
		{"a location without a country is never a new country",
			&londonEvent, at(Location{Lat: 51.5, Lon: -0.1}, time.Hour), Known{DeviceSeen: true}, Config{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := Assess(tt.prev, tt.cur, tt.known, tt.cfg)
			if got := a.Kinds(); !slices.Equal(got, tt.want) {
				t.Errorf("Kinds = %v, want %v (assessment %+v)", got, tt.want, a)
			}
			if a.Anomalous() != (len(tt.want) > 0) {
				t.Errorf("Anomalous = %v with kinds %v", a.Anomalous(), tt.want)
			}
			if math.IsNaN(a.SpeedKmh) || math.IsInf(a.SpeedKmh, 0) || math.IsNaN(a.DistanceKm) {
				t.Errorf("non-finite numbers leak out: %+v", a)
			}
		})
	}
}

func TestAssessNumbers(t *testing.T) {
	t.Parallel()
	prev := at(london, 0)

	a := Assess(&prev, at(milton, time.Hour), seen, Config{})
	if a.DistanceKm < 7650 || a.DistanceKm > 7750 {
		t.Errorf("London–Milton = %.0f km, want about 7700", a.DistanceKm)
	}
	// Speed allows for both radii: (distance - 10 - 22) km in one hour.
	if want := a.DistanceKm - 32; math.Abs(a.SpeedKmh-want) > 1e-6 {
		t.Errorf("SpeedKmh = %f, want %f", a.SpeedKmh, want)
	}

	a = Assess(&prev, at(boxford, 30*time.Minute), seen, Config{})
	if a.DistanceKm < 80 || a.DistanceKm > 90 {
		t.Errorf("London–Boxford = %.1f km, want about 85", a.DistanceKm)
	}
	if a.SpeedKmh != 0 {
		t.Errorf("SpeedKmh = %f, want 0: the points are within 110 km of each other's circles", a.SpeedKmh)
	}

	// Just under the limit is a fast flight; just over it is not.
	from, to := Location{Country: "EC"}, Location{Country: "EC", Lon: 10}
	d := haversineKm(from, to)
	for _, tc := range []struct {
		speed float64
		want  bool
	}{{999, false}, {1001, true}} {
		elapsed := time.Duration(d / tc.speed * float64(time.Hour))
		a := Assess(ptr(at(from, 0)), at(to, elapsed), seen, Config{})
		if a.ImpossibleTravel != tc.want || math.Abs(a.SpeedKmh-tc.speed) > 0.01 {
			t.Errorf("at %v km/h: ImpossibleTravel = %v (speed %.2f), want %v", tc.speed, a.ImpossibleTravel, a.SpeedKmh, tc.want)
		}
	}
}

func TestHaversine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b Location
		want float64
	}{
		{Location{}, Location{}, 0},
		{Location{Lat: 0, Lon: 0}, Location{Lat: 0, Lon: 1}, 111.195},          // one degree of the equator
		{Location{Lat: 90, Lon: 0}, Location{Lat: -90, Lon: 0}, 20015.1},       // pole to pole
		{Location{Lat: 0, Lon: 0}, Location{Lat: 0, Lon: 180}, 20015.1},        // antipodes
		{Location{Lat: 0, Lon: 179.5}, Location{Lat: 0, Lon: -179.5}, 111.195}, // across the date line
	}
	for _, tt := range tests {
		if got := haversineKm(tt.a, tt.b); math.Abs(got-tt.want) > 0.1 {
			t.Errorf("haversineKm(%v, %v) = %.3f, want %.3f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestKindsOrder(t *testing.T) {
	t.Parallel()
	a := Assessment{ImpossibleTravel: true, NewCountry: true, NewDevice: true}
	want := []string{KindNewDevice, KindNewCountry, KindImpossibleTravel}
	if got := a.Kinds(); !slices.Equal(got, want) {
		t.Errorf("Kinds = %v, want %v", got, want)
	}
	if (Assessment{}).Kinds() != nil {
		t.Error("no anomalies must give nil kinds")
	}
}

// TestSignInScenarios runs the whole chain a sign-in takes: GeoIP lookups from a
// built City database, then Assess.
func TestSignInScenarios(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, _, _ := openTest(t, w.path)

	event := func(ip string, d time.Duration) Event {
		loc, ok := g.Lookup(ip)
		return Event{At: t0.Add(d), IP: ip, Loc: loc, HasLoc: ok, DeviceKey: "dev"}
	}
	tests := []struct {
		name     string
		from, to string
		after    time.Duration
		known    Known
		want     []string
	}{
		{"London then Milton within an hour", ipLondon, ipMilton, 45 * time.Minute, seen, []string{KindImpossibleTravel}},
		{"London then Boxford 30 minutes later", ipLondon, ipBoxford, 30 * time.Minute, Known{DeviceSeen: true}, nil},
		{"London then an unknown IP", ipLondon, ipUnknown, time.Minute, Known{DeviceSeen: true}, nil},
		{"an unknown IP then Milton", ipUnknown, ipMilton, time.Minute, Known{DeviceSeen: true}, nil},
		{"London then a record without coordinates", ipLondon, ipNoLoc, time.Minute, Known{DeviceSeen: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := event(tt.from, 0)
			a := Assess(&prev, event(tt.to, tt.after), tt.known, Config{})
			if got := a.Kinds(); !slices.Equal(got, tt.want) {
				t.Errorf("Kinds = %v, want %v (assessment %+v)", got, tt.want, a)
			}
		})
	}

	// Without any database the checks degrade to device-only (SPEC §5).
	none := OpenGeoIP("", nil)
	loc, ok := none.Lookup(ipMilton)
	prev := event(ipLondon, 0)
	a := Assess(&prev, Event{At: t0.Add(time.Minute), Loc: loc, HasLoc: ok}, Known{}, Config{})
	if got := a.Kinds(); !slices.Equal(got, []string{KindNewDevice}) {
		t.Errorf("without GeoIP: Kinds = %v, want only new_device", got)
	}
}

func ptr[T any](v T) *T { return &v }
