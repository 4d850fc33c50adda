package risk

import (
	"strings"
	"time"
)

// DefaultMaxSpeedKmh is the fastest believable trip between two sign-ins: a little
// above an airliner's cruising speed (SPEC §5).
const DefaultMaxSpeedKmh = 1000

// Anomaly kinds, as Assessment.Kinds reports them (audit records and mail use them).
const (
	KindNewDevice        = "new_device"
	KindNewCountry       = "new_country"
	KindImpossibleTravel = "impossible_travel"
)

// Event is one successful sign-in as the caller records it.
type Event struct {
	At        time.Time
	IP        string
	Loc       Location
	HasLoc    bool   // false when GeoIP had no answer or the user objected to profiling
	DeviceKey string // from DeviceKey
}

// Known is what the caller's store already knows about this user, looked up before
// the current sign-in is recorded.
type Known struct {
	DeviceSeen  bool // cur.DeviceKey was seen before for this user
	CountrySeen bool // cur.Loc.Country was seen before for this user
	FirstSignIn bool // the user has never signed in: there is nothing to compare with
}

// Config tunes Assess. The zero value uses the defaults.
type Config struct {
	MaxSpeedKmh float64 // above this the trip is impossible; default DefaultMaxSpeedKmh
}

func (c Config) maxSpeed() float64 {
	if c.MaxSpeedKmh > 0 { // also false for NaN
		return c.MaxSpeedKmh
	}
	return DefaultMaxSpeedKmh
}

// Assessment is the verdict on one sign-in.
type Assessment struct {
	NewDevice        bool
	NewCountry       bool
	ImpossibleTravel bool

	// DistanceKm is the great-circle distance between the two sign-ins' locations,
	// as GeoIP reported them (0 unless both had a location).
	DistanceKm float64
	// SpeedKmh is the speed the trip would have needed after giving both points the
	// benefit of their accuracy radius; 0 when the circles overlap. When the clocks
	// say no time passed (or went backwards) it is computed as if one second had,
	// a finite stand-in for "instant" that logs and JSON can carry.
	SpeedKmh float64
}

// Kinds lists the anomalies found, in a fixed order; nil when there are none.
func (a Assessment) Kinds() []string {
	var k []string
	if a.NewDevice {
		k = append(k, KindNewDevice)
	}
	if a.NewCountry {
		k = append(k, KindNewCountry)
	}
	if a.ImpossibleTravel {
		k = append(k, KindImpossibleTravel)
	}
	return k
}

// Anomalous reports whether any anomaly was found.
func (a Assessment) Anomalous() bool {
	return a.NewDevice || a.NewCountry || a.ImpossibleTravel
}

// Assess compares the current sign-in with the previous one (nil if none is
// recorded) and with what the store knows. It is a pure function: the caller records
// cur afterwards, alarm or not, so that the next sign-in compares against it.
//
// Every location rule needs a location on both sides; an unknown location is never
// evidence of anything, so that a missing GeoIP database or an unlisted IP cannot
// cause a false alarm.
func Assess(prev *Event, cur Event, known Known, cfg Config) Assessment {
	var a Assessment
	if known.FirstSignIn {
		// Everything is new on the first sign-in, so nothing is news.
		return a
	}
	a.NewDevice = !known.DeviceSeen
	if prev == nil || !prev.HasLoc || !cur.HasLoc || !prev.Loc.usable() || !cur.Loc.usable() {
		return a
	}
	// A country equal to the previous sign-in's cannot be new, whatever Known says;
	// this guards against a store that lost or never kept the country list.
	a.NewCountry = !known.CountrySeen && cur.Loc.Country != "" &&
		!strings.EqualFold(cur.Loc.Country, prev.Loc.Country)
	a.DistanceKm = haversineKm(prev.Loc, cur.Loc)
	a.SpeedKmh, a.ImpossibleTravel = travel(prev, cur, a.DistanceKm, cfg.maxSpeed())
	return a
}

// travel decides impossible travel. Each location is only a circle of likely
// positions, so the trip is measured between the nearest points of the two circles:
// the distance minus both radii. Two sign-ins from one city that GeoIP places in
// neighbouring towns must not look like a flight.
func travel(prev *Event, cur Event, distanceKm, maxSpeed float64) (speedKmh float64, impossible bool) {
	adjusted := distanceKm - prev.Loc.accuracy() - cur.Loc.accuracy()
	if !(adjusted > 0) {
		return 0, false
	}
	elapsed := cur.At.Sub(prev.At)
	if elapsed <= 0 {
		// Simultaneous sign-ins in places that cannot be the same are impossible at
		// any speed (two people, or a stolen session, rather than one traveller).
		return adjusted / time.Second.Hours(), true
	}
	speedKmh = adjusted / elapsed.Hours()
	return speedKmh, speedKmh > maxSpeed
}
