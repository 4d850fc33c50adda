// Package risktest builds small MaxMind-format City databases for tests (with
// mmdbwriter), so tests of GeoIP-dependent code need no file outside the repository.
package risktest

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

// Record is one network of a test City database. A record with noCoords has a
// country but no location, as MaxMind ships for some satellite and anycast ranges.
type Record struct {
	Network  string
	Country  string
	City     string
	Lat, Lon float64
	Accuracy uint16
	NoCoords bool
}

// The cities of MaxMind's own test database, with the coordinates the task uses.
var (
	London     = Record{Network: "81.2.69.160/27", Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, Accuracy: 10}
	Milton     = Record{Network: "216.160.83.56/29", Country: "US", City: "Milton", Lat: 47.2513, Lon: -122.3149, Accuracy: 22}
	Boxford    = Record{Network: "2.125.160.216/29", Country: "GB", City: "Boxford", Lat: 51.75, Lon: -1.25, Accuracy: 100}
	NoLocation = Record{Network: "89.160.20.112/28", Country: "SE", NoCoords: true}
)

const (
	IPLondon     = "81.2.69.160"
	IPMilton     = "216.160.83.56"
	IPBoxford    = "2.125.160.216"
	IPNoLocation = "89.160.20.112"
	IPUnknown    = "1.1.1.1"
)

func StandardRecords() []Record { return []Record{London, Milton, Boxford, NoLocation} }

// buildDB returns a database of the given type (normally "GeoIP2-City").
func BuildDB(t testing.TB, dbType string, recs ...Record) []byte {
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
		_, network, err := net.ParseCIDR(r.Network)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(r.Country)},
		}
		if r.City != "" {
			rec["city"] = mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(r.City)}}
		}
		if !r.NoCoords {
			rec["location"] = mmdbtype.Map{
				"latitude":        mmdbtype.Float64(r.Lat),
				"longitude":       mmdbtype.Float64(r.Lon),
				"accuracy_radius": mmdbtype.Uint16(r.Accuracy),
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

// WriteCityDB writes a City database with recs (StandardRecords when none) into the
// test's temporary directory and returns its path.
func WriteCityDB(t testing.TB, recs ...Record) string {
	t.Helper()
	if len(recs) == 0 {
		recs = StandardRecords()
	}
	path := filepath.Join(t.TempDir(), "GeoIP2-City.mmdb")
	if err := os.WriteFile(path, BuildDB(t, "GeoIP2-City", recs...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
