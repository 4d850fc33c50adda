package risk

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/risk/risktest"
)

// The test databases are built here with mmdbwriter, in the shape of MaxMind's City
// records (country.iso_code, city.names.en, location.{latitude,longitude,
// accuracy_radius}), so the tests depend on no file outside the repository.

// The builder lives in risktest (shared with other packages' tests); these names keep
// this package's tests short.
type testRecord = risktest.Record

var (
	recLondon  = risktest.London
	recMilton  = risktest.Milton
	recBoxford = risktest.Boxford
	recNoLoc   = risktest.NoLocation
)

const (
	ipLondon  = risktest.IPLondon
	ipMilton  = risktest.IPMilton
	ipBoxford = risktest.IPBoxford
	ipNoLoc   = risktest.IPNoLocation
	ipUnknown = risktest.IPUnknown
)

func standardRecords() []testRecord { return risktest.StandardRecords() }

func buildDB(t testing.TB, dbType string, recs ...testRecord) []byte {
	return risktest.BuildDB(t, dbType, recs...)
}

// fileWriter replaces the database file the way geoipupdate does (write aside, then
// rename) and stamps each version with a distinct modification time, so that change
// detection never depends on the file system's timestamp resolution.
type fileWriter struct {
	t       testing.TB
	path    string
	version int
}

func newFileWriter(t testing.TB) *fileWriter {
	return &fileWriter{t: t, path: filepath.Join(t.TempDir(), "GeoIP2-City.mmdb")}
}

func (w *fileWriter) write(data []byte) {
	w.t.Helper()
	tmp := w.path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		w.t.Fatal(err)
	}
	w.version++
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(w.version) * time.Hour)
	if err := os.Chtimes(tmp, mtime, mtime); err != nil {
		w.t.Fatal(err)
	}
	if err := os.Rename(tmp, w.path); err != nil {
		w.t.Fatal(err)
	}
}

func (w *fileWriter) city(recs ...testRecord) {
	w.t.Helper()
	w.write(buildDB(w.t, "GeoIP2-City", recs...))
}

// garbage is what a broken download or a wrong file looks like: no MaxMind metadata.
var garbage = bytes.Repeat([]byte("not a maxmind database\x00\xff"), 64)
