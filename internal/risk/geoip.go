package risk

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	geoip2 "github.com/oschwald/geoip2-golang/v2"
	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

// DefaultCheckInterval is how often, at most, a Lookup stats the database file to see
// whether the operator (or geoipupdate) replaced it. A stat a minute is free; MaxMind
// publishes at most twice a week, so a minute of staleness costs nothing.
const DefaultCheckInterval = time.Minute

// GeoIP geolocates client IPs with a MaxMind City database. It is safe for
// concurrent use, and a nil *GeoIP is valid and has no data.
//
// It never fails hard: without a usable file it answers ok=false, and it picks up a
// replaced file on its own (see Lookup). The current database sits behind an atomic
// pointer, so lookups never wait for a reload.
type GeoIP struct {
	path     string
	logger   *zap.Logger
	clock    clock.Clock
	interval time.Duration

	db        atomic.Pointer[geoip2.Reader] // nil until a good file was loaded
	nextCheck atomic.Int64                  // unix nanos; Lookup skips the stat before this

	// mu serialises file checks and guards seen. Lookup only TryLocks it, so a
	// sign-in never queues behind another sign-in that happens to be reloading.
	mu   sync.Mutex
	seen fileState // the file version last tried (loaded or rejected)
}

// GeoIPOption tunes OpenGeoIP; the defaults suit production.
type GeoIPOption func(*GeoIP)

// WithClock sets the clock that paces file checks (tests use clock.Fake).
func WithClock(c clock.Clock) GeoIPOption {
	return func(g *GeoIP) {
		if c != nil {
			g.clock = c
		}
	}
}

// WithCheckInterval sets how often, at most, Lookup stats the file. Non-positive
// values keep DefaultCheckInterval.
func WithCheckInterval(d time.Duration) GeoIPOption {
	return func(g *GeoIP) {
		if d > 0 {
			g.interval = d
		}
	}
}

// OpenGeoIP loads the City database at path. It never returns an error: a missing
// or corrupt file is logged once and leaves the reader without data until a good
// file appears, because GeoIP is an aid to anomaly detection and must never stop
// anyone signing in (SPEC §5). An empty path means "no database configured".
func OpenGeoIP(path string, logger *zap.Logger, opts ...GeoIPOption) *GeoIP {
	if logger == nil {
		logger = zap.NewNop()
	}
	g := &GeoIP{
		path:     path,
		logger:   logger.With(zap.String("geoip_path", path)),
		clock:    clock.Real{},
		interval: DefaultCheckInterval,
	}
	for _, o := range opts {
		o(g)
	}
	if path == "" {
		g.logger.Info("no geoip database configured; sign-in anomaly checks are device-only")
		return g
	}
	g.mu.Lock()
	_ = g.checkLocked() // the cause is logged inside
	g.mu.Unlock()
	g.nextCheck.Store(g.clock.Now().Add(g.interval).UnixNano())
	return g
}

// HasData reports whether a database is loaded, for health checks and metrics.
func (g *GeoIP) HasData() bool {
	return g != nil && g.db.Load() != nil
}

// Lookup geolocates ip (IPv4 or IPv6 text, as Caddy's {client_ip}). ok is false when
// there is no database, the address is not in it, the record has no coordinates, or
// the record cannot be decoded: callers treat all of these as "location unknown",
// which never raises a location alarm.
//
// A record without coordinates is reported as unknown rather than as a country
// alone: a zero Lat/Lon would place the user off the coast of Africa and turn into
// an impossible-travel alarm.
//
// At most once per check interval, Lookup also stats the file and reloads it if its
// size or modification time changed; the one caller that does so pays for the read.
func (g *GeoIP) Lookup(ip string) (Location, bool) {
	if g == nil {
		return Location{}, false
	}
	g.maybeCheck()
	db := g.db.Load()
	if db == nil {
		return Location{}, false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return Location{}, false
	}
	// "::ffff:1.2.3.4" from a dual-stack listener is the IPv4 client; a zone only
	// names the local interface.
	addr = addr.Unmap().WithZone("")
	rec, err := db.City(addr)
	if err != nil || rec == nil || !rec.Location.HasCoordinates() {
		return Location{}, false
	}
	return Location{
		Country:    rec.Country.ISOCode,
		City:       rec.City.Names.English,
		Lat:        *rec.Location.Latitude,
		Lon:        *rec.Location.Longitude,
		AccuracyKm: float64(rec.Location.AccuracyRadius),
	}, true
}
