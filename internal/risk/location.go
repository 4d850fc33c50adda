package risk

import "math"

// Location is where GeoIP places an address. It is approximate by nature: MaxMind
// is about 67% confident that the device is within AccuracyKm of (Lat, Lon).
type Location struct {
	Country    string  // ISO 3166-1 alpha-2 code, e.g. "GB"; may be empty
	City       string  // English city name; often empty for country-level records
	Lat, Lon   float64 // degrees
	AccuracyKm float64 // radius of the confidence circle around (Lat, Lon)
}

// earthRadiusKm is the IUGG mean radius. The spherical model is off by at most
// ~0.5% against the ellipsoid, far below GeoIP's own error.
const earthRadiusKm = 6371.0088

// usable reports whether the coordinates can be trusted for arithmetic. Bad data
// (NaN, out of range) must not turn into a distance and then into an alarm.
func (l Location) usable() bool {
	return l.Lat >= -90 && l.Lat <= 90 && l.Lon >= -180 && l.Lon <= 180
}

// accuracy is the non-negative accuracy radius; a negative or NaN radius from a
// caller is read as "exact" rather than poisoning the subtraction.
func (l Location) accuracy() float64 {
	if l.AccuracyKm > 0 {
		return l.AccuracyKm
	}
	return 0
}

// haversineKm is the great-circle distance between two points. The haversine form
// stays accurate for the short distances that matter most here (same city, next
// town), where the spherical law of cosines loses precision.
func haversineKm(a, b Location) float64 {
	const rad = math.Pi / 180
	lat1, lat2 := a.Lat*rad, b.Lat*rad
	dLat := (b.Lat - a.Lat) * rad
	dLon := (b.Lon - a.Lon) * rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) +
		math.Cos(lat1)*math.Cos(lat2)*math.Sin(dLon/2)*math.Sin(dLon/2)
	// Rounding can push h a hair above 1 for antipodal points; Asin would give NaN.
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, h)))
}
