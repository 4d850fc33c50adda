package risk

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	geoip2 "github.com/oschwald/geoip2-golang/v2"
	"go.uber.org/zap"
)

// fileState identifies one version of the database file cheaply, by what stat says.
// Remembering the version we last tried (good or bad) is what makes "log once" hold:
// a corrupt file is reported when it appears, not at every check, and tried again
// only when it changes. The zero value means "never checked".
type fileState struct {
	checked bool
	info    os.FileInfo // nil when the file was missing
}

// same reports whether two checks saw the same version. Size and modification time
// catch a file overwritten in place; SameFile catches a replacement by rename (as
// geoipupdate does) even if the new file happens to carry the old size and time.
func (s fileState) same(o fileState) bool {
	if s.checked != o.checked || (s.info == nil) != (o.info == nil) {
		return false
	}
	if s.info == nil {
		return true
	}
	return s.info.Size() == o.info.Size() && s.info.ModTime().Equal(o.info.ModTime()) &&
		os.SameFile(s.info, o.info)
}

// Refresh checks the file now, whatever the interval, and loads it if it changed
// since the last check. It returns why a changed file was rejected (the previous
// database, if any, stays in use) and nil when the file is unchanged or was loaded.
// Lookup does the same on its own; Refresh is for an operator's "reload" command.
func (g *GeoIP) Refresh() error {
	if g == nil || g.path == "" {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextCheck.Store(g.clock.Now().Add(g.interval).UnixNano())
	return g.checkLocked()
}

// maybeCheck is the Lookup-side trigger: cheap when not due (one atomic load), and
// when due only one caller checks while the others carry on with the current data.
func (g *GeoIP) maybeCheck() {
	if g.path == "" {
		return
	}
	now := g.clock.Now()
	if now.UnixNano() < g.nextCheck.Load() {
		return
	}
	if !g.mu.TryLock() {
		return
	}
	defer g.mu.Unlock()
	if now.UnixNano() < g.nextCheck.Load() { // another caller just checked
		return
	}
	g.nextCheck.Store(now.Add(g.interval).UnixNano())
	_ = g.checkLocked() // logged inside; the caller only wants a location
}

// checkLocked stats the file and, if it is a version not tried before, loads it and
// swaps it in. A file that vanishes or fails to load leaves the previous database in
// place: a half-finished copy must not wipe out good data. g.mu must be held.
func (g *GeoIP) checkLocked() error {
	fi, err := os.Stat(g.path)
	if err != nil {
		st := fileState{checked: true}
		if !st.same(g.seen) {
			g.seen = st
			g.logger.Warn("geoip database unavailable; location checks use the previous data, or none",
				zap.Bool("has_data", g.db.Load() != nil), zap.Error(err))
		}
		return fmt.Errorf("checking geoip database: %w", err)
	}
	st := fileState{checked: true, info: fi}
	if st.same(g.seen) {
		return nil
	}
	g.seen = st
	db, err := loadCity(g.path)
	if err != nil {
		g.logger.Warn("geoip database rejected; location checks use the previous data, or none",
			zap.Bool("has_data", g.db.Load() != nil), zap.Error(err))
		return err
	}
	// The old reader is not closed: it reads from a heap buffer (see loadCity), so
	// the garbage collector frees it once the last in-flight Lookup is done with it.
	g.db.Store(db)
	md := db.Metadata()
	g.logger.Info("geoip database loaded",
		zap.String("database_type", md.DatabaseType),
		zap.Time("build_time", time.Unix(int64(md.BuildEpoch), 0).UTC()))
	return nil
}

// loadCity reads the whole file into memory and opens it. It deliberately avoids
// geoip2.Open's memory map: geoipupdate and operators often overwrite the file in
// place, and a mapped file that is truncated under a reader kills the process with
// SIGBUS; unmapping a reader that a concurrent Lookup still uses would do the same.
// The price is one extra copy of the database (tens of MB) during a swap.
//
// It does not run the full MaxMind verifier, which walks the whole tree and takes
// seconds on a production database (this runs on a sign-in or at start-up). Damage
// that survives opening shows up as a decode error for the affected records, and
// Lookup turns that into "location unknown".
func loadCity(path string) (*geoip2.Reader, error) {
	buf, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading geoip database: %w", err)
	}
	db, err := geoip2.OpenBytes(buf)
	if err != nil {
		return nil, fmt.Errorf("opening geoip database: %w", err)
	}
	// An ASN or Anonymous-IP file opens fine but cannot answer City lookups; refuse
	// it now so that a wrong file name keeps the last good database.
	var wrongType geoip2.InvalidMethodError
	if _, err := db.City(netip.IPv4Unspecified()); errors.As(err, &wrongType) {
		return nil, fmt.Errorf("opening geoip database: %w", err)
	}
	return db, nil
}
