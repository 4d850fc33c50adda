package risk

import (
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gatehouse-dev/gatehouse/internal/clock"
)

const interval = time.Minute

// openTest opens path with a fake clock and a log recorder.
func openTest(t *testing.T, path string) (*GeoIP, *clock.Fake, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	fc := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	g := OpenGeoIP(path, zap.New(core), WithClock(fc), WithCheckInterval(interval))
	return g, fc, logs
}

func warnings(logs *observer.ObservedLogs) int {
	return logs.FilterLevelExact(zapcore.WarnLevel).Len()
}

func lookupCity(t *testing.T, g *GeoIP, ip string) string {
	t.Helper()
	loc, ok := g.Lookup(ip)
	if !ok {
		return "<none>"
	}
	return loc.City
}

func TestLookup(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, _, logs := openTest(t, w.path)
	if !g.HasData() {
		t.Fatalf("HasData = false; logs: %v", logs.All())
	}

	tests := []struct {
		name string
		ip   string
		want Location
		ok   bool
	}{
		{"London", ipLondon, Location{Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, AccuracyKm: 10}, true},
		{"Milton", ipMilton, Location{Country: "US", City: "Milton", Lat: 47.2513, Lon: -122.3149, AccuracyKm: 22}, true},
		{"Boxford", ipBoxford, Location{Country: "GB", City: "Boxford", Lat: 51.75, Lon: -1.25, AccuracyKm: 100}, true},
		{"inside the network, not its first address", "81.2.69.170", Location{Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, AccuracyKm: 10}, true},
		{"IPv4-mapped IPv6 is the IPv4 client", "::ffff:" + ipLondon, Location{Country: "GB", City: "London", Lat: 51.5142, Lon: -0.0931, AccuracyKm: 10}, true},
		{"unknown IP", ipUnknown, Location{}, false},
		{"record without coordinates is unknown, not null island", ipNoLoc, Location{}, false},
		{"private address", "10.1.2.3", Location{}, false},
		{"IPv6 not in db", "2001:db8::1", Location{}, false},
		{"not an IP", "not-an-ip", Location{}, false},
		{"empty", "", Location{}, false},
		{"IP with port is not an IP", ipLondon + ":443", Location{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := g.Lookup(tt.ip)
			if ok != tt.ok || got != tt.want {
				t.Errorf("Lookup(%q) = %+v, %v; want %+v, %v", tt.ip, got, ok, tt.want, tt.ok)
			}
		})
	}
	if n := warnings(logs); n != 0 {
		t.Errorf("%d warnings for a good database: %v", n, logs.All())
	}
}

func TestOpenWithoutData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		prepare  func(w *fileWriter) string // returns the path to open
		warnings int
	}{
		{"empty path means not configured", func(*fileWriter) string { return "" }, 0},
		{"missing file", func(w *fileWriter) string { return w.path }, 1},
		{"corrupt file", func(w *fileWriter) string { w.write(garbage); return w.path }, 1},
		{"empty file", func(w *fileWriter) string { w.write(nil); return w.path }, 1},
		{"truncated copy", func(w *fileWriter) string {
			db := buildDB(t, "GeoIP2-City", standardRecords()...)
			w.write(db[:len(db)/2])
			return w.path
		}, 1},
		{"wrong database type", func(w *fileWriter) string {
			w.write(buildDB(t, "GeoLite2-ASN", recLondon))
			return w.path
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, fc, logs := openTest(t, tt.prepare(newFileWriter(t)))
			// Lookups, and the checks they trigger, must neither panic nor log again:
			// an unchanged broken file is reported once.
			for range 3 {
				if loc, ok := g.Lookup(ipLondon); ok {
					t.Fatalf("Lookup without data = %+v, true", loc)
				}
				fc.Advance(interval)
			}
			if g.HasData() {
				t.Error("HasData = true")
			}
			if n := warnings(logs); n != tt.warnings {
				t.Errorf("%d warnings, want %d: %v", n, tt.warnings, logs.All())
			}
		})
	}
}

func TestNilGeoIPHasNoData(t *testing.T) {
	t.Parallel()
	var g *GeoIP
	if _, ok := g.Lookup(ipLondon); ok || g.HasData() || g.Refresh() != nil {
		t.Error("a nil *GeoIP must behave as a reader without data")
	}
}

func TestReloadPicksUpReplacedFile(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, fc, logs := openTest(t, w.path)
	if got := lookupCity(t, g, ipLondon); got != "London" {
		t.Fatalf("city = %q, want London", got)
	}

	renamed := recLondon
	renamed.City = "City of Westminster"
	w.city(renamed, recMilton)

	// Within the interval the file is not even stat'ed: lookups stay cheap.
	fc.Advance(interval - time.Second)
	if got := lookupCity(t, g, ipLondon); got != "London" {
		t.Fatalf("before the interval: city = %q, want London", got)
	}
	fc.Advance(time.Second)
	if got := lookupCity(t, g, ipLondon); got != "City of Westminster" {
		t.Fatalf("after the interval: city = %q, want City of Westminster", got)
	}
	if got := lookupCity(t, g, ipBoxford); got != "<none>" {
		t.Errorf("Boxford was dropped from the new file but still found: %q", got)
	}
	if n := logs.FilterMessage("geoip database loaded").Len(); n != 2 {
		t.Errorf("%d load messages, want 2", n)
	}
}

func TestReloadKeepsGoodDataOverBadReplacement(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, fc, logs := openTest(t, w.path)

	bad := []struct {
		name  string
		apply func()
	}{
		{"garbage", func() { w.write(garbage) }},
		{"truncated copy", func() {
			db := buildDB(t, "GeoIP2-City", recLondon)
			w.write(db[:len(db)-10])
		}},
		{"wrong database type", func() { w.write(buildDB(t, "GeoLite2-ASN", recLondon)) }},
		{"file removed", func() {
			if err := os.Remove(w.path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, b := range bad {
		b.apply()
		before := warnings(logs)
		for range 3 { // several checks of the same bad file: one warning
			fc.Advance(interval)
			if got := lookupCity(t, g, ipLondon); got != "London" {
				t.Fatalf("%s: city = %q, want the previous London", b.name, got)
			}
		}
		if n := warnings(logs) - before; n != 1 {
			t.Errorf("%s: %d warnings, want 1", b.name, n)
		}
	}

	// A good file after the bad ones is picked up again.
	moved := recLondon
	moved.City = "Greenwich"
	w.city(moved)
	fc.Advance(interval)
	if got := lookupCity(t, g, ipLondon); got != "Greenwich" {
		t.Errorf("after recovery: city = %q, want Greenwich", got)
	}
}

// geoipupdate renames a new file into place; even if it carried the old file's size
// and modification time, it is a different file and must be loaded.
func TestReloadDetectsRenameWithSameSizeAndTime(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(recLondon)
	before, err := os.Stat(w.path)
	if err != nil {
		t.Fatal(err)
	}
	g, fc, _ := openTest(t, w.path)

	renamed := recLondon
	renamed.City = "Londra" // same length as London: same file size
	w.city(renamed)
	if err := os.Chtimes(w.path, before.ModTime(), before.ModTime()); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(w.path)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("test setup: size/time differ (%d/%v vs %d/%v)", before.Size(), before.ModTime(), after.Size(), after.ModTime())
	}
	fc.Advance(interval)
	if got := lookupCity(t, g, ipLondon); got != "Londra" {
		t.Errorf("city = %q, want Londra", got)
	}
}

func TestMissingFileAppearsLater(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	g, fc, _ := openTest(t, w.path)
	if g.HasData() {
		t.Fatal("HasData before the file exists")
	}
	w.city(standardRecords()...)
	fc.Advance(interval)
	if got := lookupCity(t, g, ipMilton); got != "Milton" {
		t.Errorf("city = %q, want Milton", got)
	}
}

func TestRefresh(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, _, _ := openTest(t, w.path)

	if err := g.Refresh(); err != nil {
		t.Errorf("Refresh of an unchanged file: %v", err)
	}
	w.write(garbage)
	if err := g.Refresh(); err == nil {
		t.Error("Refresh of a corrupt file: nil error")
	}
	renamed := recLondon
	renamed.City = "Soho"
	w.city(renamed)
	// No clock movement: Refresh does not wait for the interval.
	if err := g.Refresh(); err != nil {
		t.Errorf("Refresh of a good file: %v", err)
	}
	if got := lookupCity(t, g, ipLondon); got != "Soho" {
		t.Errorf("city = %q, want Soho", got)
	}
}

// TestConcurrentLookupsDuringReload is for the race detector: lookups on many
// goroutines while the file keeps changing under them.
func TestConcurrentLookupsDuringReload(t *testing.T) {
	t.Parallel()
	w := newFileWriter(t)
	w.city(standardRecords()...)
	g, fc, _ := openTest(t, w.path)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if loc, ok := g.Lookup(ipLondon); !ok || loc.Country != "GB" {
					t.Errorf("Lookup during reload = %+v, %v", loc, ok)
					return
				}
			}
		})
	}
	for i := range 20 {
		r := recLondon
		r.City = []string{"London", "Westminster"}[i%2]
		if i%5 == 4 {
			w.write(garbage)
		} else {
			w.city(r)
		}
		fc.Advance(interval)
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
}

// BenchmarkLookup measures the per-sign-in cost, interval check included.
func BenchmarkLookup(b *testing.B) {
	w := newFileWriter(b)
	w.city(standardRecords()...)
	g := OpenGeoIP(w.path, nil)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := g.Lookup(ipLondon); !ok {
			b.Fatal("no location")
		}
	}
}
