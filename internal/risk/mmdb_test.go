package risk

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// The test databases are built here with mmdbwriter, in the shape of MaxMind's City
// records (country.iso_code, city.names.en, location.{latitude,longitude,
// accuracy_radius}), so the tests depend on no file outside the repository.

// testRecord is one network of a test City database. A record with noCoords has a
// country but no location, as MaxMind ships for some satellite and anycast ranges.
type testRecord struct {
	network  string
	country  string
	city     string
	lat, lon float64
	accuracy uint16
	noCoords bool
}

// The cities of MaxMind's own test database, with the coordinates the task uses.
var (
	recLondon  = testRecord{network: "81.2.69.160/27", country: "GB", city: "London", lat: 51.5142, lon: -0.0931, accuracy: 10}
	recMilton  = testRecord{network: "216.160.83.56/29", country: "US", city: "Milton", lat: 47.2513, lon: -122.3149, accuracy: 22}
	recBoxford = testRecord{network: "2.125.160.216/29", country: "GB", city: "Boxford", lat: 51.75, lon: -1.25, accuracy: 100}
	recNoLoc   = testRecord{network: "89.160.20.112/28", country: "SE", noCoords: true}
)

const (
	ipLondon  = "81.2.69.160"
	ipMilton  = "216.160.83.56"
	ipBoxford = "2.125.160.216"
	ipNoLoc   = "89.160.20.112"
	ipUnknown = "1.1.1.1"
)

func standardRecords() []testRecord { return []testRecord{recLondon, recMilton, recBoxford, recNoLoc} }

// buildDB returns a database of the given type (normally "GeoIP2-City").
func buildDB(t testing.TB, dbType string, recs ...testRecord) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType: dbType,
		Languages:    []string{"en"},
		RecordSize:   28,
		BuildEpoch:   time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		_, network, err := net.ParseCIDR(r.network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(r.country)},
		}
		if r.city != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.city)}}
		}
		if !r.noCoords {
			rec["location"] = mmdbtype.Map{
				"latitude":        mmdbtype.Float64(r.lat),
				"longitude":       mmdbtype.Float64(r.lon),
				"accuracy_radius": mmdbtype.Uint16(r.accuracy),
			}
		}
		if err := tree.Insert(network, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
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
