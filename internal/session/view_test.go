package session

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/risk/risktest"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestDescribeWithARealGeoIPDatabase: the sessions page shows this device first, each
// session's device from its User-Agent, the address it was last seen at (else where it
// began), and the city and country from a real MaxMind-format database — unless the
// user objected to location profiling. Half-done sign-ins are not listed.
func TestDescribeWithARealGeoIPDatabase(t *testing.T) {
	t.Parallel()
	geo := risk.OpenGeoIP(risktest.WriteCityDB(t, risktest.StandardRecords()...), nil)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	const safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	sessions := []store.Session{
		{ID: "phone", UserAgent: safari, IP: risktest.IPMilton, LastIP: risktest.IPLondon, CreatedAt: at, LastActive: at.Add(time.Hour), AuthMethods: []string{"pwd", "otp"}},
		{ID: "half", UserAgent: firefox, IP: risktest.IPLondon, CreatedAt: at, Pending: true},
		{ID: "laptop", UserAgent: firefox, IP: risktest.IPUnknown, CreatedAt: at, LastActive: at, AuthMethods: []string{"hwk"}},
	}
	u := store.User{ID: "u1"}
	got := Describe(sessions, u, geo, "laptop")
	if len(got) != 2 || got[0].ID != "laptop" || !got[0].Current || got[1].ID != "phone" || got[1].Current {
		t.Fatalf("views %+v: want laptop (current) then phone, no pending session", got)
	}
	if got[0].Location != "" || got[0].IP != risktest.IPUnknown {
		t.Errorf("an address the database does not know: %+v", got[0])
	}
	phone := got[1]
	if phone.IP != risktest.IPLondon || phone.Location != "London, GB" || phone.Device == "" || phone.Device == got[0].Device {
		t.Errorf("phone: %+v (want last seen in London, its own device label)", phone)
	}
	if len(phone.Methods) != 2 || !phone.LastActive.Equal(at.Add(time.Hour)) {
		t.Errorf("phone methods/last active: %+v", phone)
	}
	u.NoLocationProfiling = true
	for _, v := range Describe(sessions, u, geo, "laptop") {
		if v.Location != "" {
			t.Errorf("location shown to a user who objected: %+v", v)
		}
	}
}
