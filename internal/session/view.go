package session

import (
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// View is a session as its user (or an administrator) sees it on the sessions page.
type View struct {
	ID         string
	Device     string // browser and OS, from the User-Agent ("Firefox on Linux")
	IP         string // where it was last seen (else where it began)
	Location   string // "London, GB" when known and the user has not objected; else ""
	CreatedAt  time.Time
	LastActive time.Time
	Methods    []string
	Current    bool // the session this view was asked from
	APIAccess  bool // a live refresh token belongs to it ("API access")
}

// MarkAPIAccess flags the views of the sessions named in withRefresh (those with a
// live refresh token).
func MarkAPIAccess(views []View, withRefresh []string) {
	for i := range views {
		views[i].APIAccess = slices.Contains(withRefresh, views[i].ID)
	}
}

// Locator places an address (risk.GeoIP).
type Locator interface {
	Lookup(ip string) (risk.Location, bool)
}

// Describe turns u's sessions into views, the current one first, leaving out
// half-done sign-ins. Locations
// are looked up only when loc is set and u has not objected to location profiling.
func Describe(sessions []store.Session, u store.User, loc Locator, current string) []View {
	out := make([]View, 0, len(sessions))
	for _, s := range sessions {
		if s.Pending {
			continue
		}
		v := View{ID: s.ID, Device: risk.DeviceLabel(s.UserAgent), IP: s.IP, CreatedAt: s.CreatedAt,
			LastActive: s.LastActive, Methods: s.AuthMethods, Current: s.ID == current}
		if s.LastIP != "" {
			v.IP = s.LastIP
		}
		if loc != nil && !u.NoLocationProfiling {
			if l, ok := loc.Lookup(v.IP); ok {
				v.Location = strings.TrimPrefix(strings.TrimSuffix(l.City+", "+l.Country, ", "), ", ")
			}
		}
		if v.Current { // this device first
			out = append([]View{v}, out...)
		} else {
			out = append(out, v)
		}
	}
	return out
}
