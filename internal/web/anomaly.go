package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// RiskConfig configures sign-in anomaly detection. Without a GeoIP database it is
// device-only; a missing or broken database never blocks a sign-in.
type RiskConfig struct {
	GeoIP       *risk.GeoIP
	MaxSpeedKmh float64 // default 1000
}

// Device cookie names: a long-lived random id that, with the browser and OS, tells a
// known device from a new one. It is a strictly necessary security cookie (no tracking).
const (
	deviceCookieSecure = "__Host-gatehouse-device"
	deviceCookiePlain  = "gatehouse_device"
	deviceCookieMaxAge = 400 * 24 * 60 * 60 // the longest browsers keep a cookie
)

// deviceID returns the browser's device id, issuing one when it has none.
func (p *Portal) deviceID(w http.ResponseWriter, r *http.Request, req Request) string {
	name := deviceCookiePlain
	if req.HTTPS {
		name = deviceCookieSecure
	}
	if c, err := r.Cookie(name); err == nil && risk.ValidDeviceID(c.Value) {
		return c.Value
	}
	id := risk.NewDeviceID()
	http.SetCookie(w, &http.Cookie{Name: name, Value: id, Path: "/", MaxAge: deviceCookieMaxAge,
		Secure: req.HTTPS, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	r.AddCookie(&http.Cookie{Name: name, Value: id}) // later reads in this request see the same id
	return id
}

// evaluation is a sign-in's risk assessment before it is recorded.
type evaluation struct {
	cur   risk.Event
	label string
	a     risk.Assessment
}

// evaluate assesses a sign-in of u from this request against the user's history
// (new device, new country, impossible travel) without recording it.
func (p *Portal) evaluate(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User) (evaluation, error) {
	label := risk.DeviceLabel(r.UserAgent())
	ev := evaluation{label: label, cur: risk.Event{At: p.Clock.Now(), IP: req.ClientIP, DeviceKey: risk.DeviceKey(p.deviceID(w, r, req), label)}}
	if !u.NoLocationProfiling { // the user may object to location profiling
		if loc, ok := p.Risk.GeoIP.Lookup(req.ClientIP); ok {
			ev.cur.Loc, ev.cur.HasLoc = loc, true
		}
	}
	hist := req.Handle.LoginHistory()
	last, err := hist.LastLoginEvent(ctx, u.ID)
	first := errors.Is(err, store.ErrNotFound)
	if err != nil && !first {
		return ev, fmt.Errorf("reading sign-in history: %w", err)
	}
	known := risk.Known{FirstSignIn: first}
	var prev *risk.Event
	if !first {
		// Travel is measured from the last sign-in with a location, so a sign-in from an
		// address the database does not know cannot hide a jump across the world.
		if located, err := hist.LastLocatedLoginEvent(ctx, u.ID); err == nil {
			last = located
		} else if !errors.Is(err, store.ErrNotFound) {
			return ev, fmt.Errorf("reading sign-in history: %w", err)
		}
		prev = &risk.Event{At: last.At, IP: last.IP, HasLoc: last.HasLocation, DeviceKey: last.DeviceKey,
			Loc: risk.Location{Country: last.Country, City: last.City, Lat: last.Lat, Lon: last.Lon, AccuracyKm: last.AccuracyKm}}
		if known.DeviceSeen, err = hist.DeviceSeen(ctx, u.ID, ev.cur.DeviceKey); err != nil {
			return ev, fmt.Errorf("reading known devices: %w", err)
		}
		if ev.cur.HasLoc {
			if known.CountrySeen, err = hist.CountrySeen(ctx, u.ID, ev.cur.Loc.Country); err != nil {
				return ev, fmt.Errorf("reading known countries: %w", err)
			}
		}
	}
	ev.a = risk.Assess(prev, ev.cur, known, risk.Config{MaxSpeedKmh: p.Risk.MaxSpeedKmh})
	return ev, nil
}

// assessSignIn records a completed sign-in in the user's history and, when it looks
// unusual, audits it and e-mails the user. It never blocks the sign-in (that is
// anomalyGate's job, before it): failures are logged.
func (p *Portal) assessSignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User) {
	ev, err := p.evaluate(ctx, w, r, req, u)
	if err != nil {
		p.Logger.Error("assessing sign-in", zapErr(err))
		return
	}
	rec := store.LoginEvent{UserID: u.ID, At: ev.cur.At, IP: req.ClientIP, HasLocation: ev.cur.HasLoc, DeviceKey: ev.cur.DeviceKey, DeviceLabel: ev.label}
	if ev.cur.HasLoc {
		l := ev.cur.Loc
		rec.Country, rec.City, rec.Lat, rec.Lon, rec.AccuracyKm = l.Country, l.City, l.Lat, l.Lon, l.AccuracyKm
	}
	if err := req.Handle.LoginHistory().AddLoginEvent(ctx, rec); err != nil {
		p.Logger.Error("recording sign-in history", zapErr(err))
	}
	if ev.a.Anomalous() {
		_ = p.reportAnomaly(ctx, r, req, u, ev, audit.Success, "")
	}
}

// reportAnomaly audits, counts and e-mails an unusual sign-in (outcome denied when the
// tenant's policy refused it).
func (p *Portal) reportAnomaly(ctx context.Context, r *http.Request, req Request, u store.User, ev evaluation, outcome, action string) error {
	kinds := ev.a.Kinds()
	rec := auditRecord(r, req, audit.ActionLoginAnomaly, outcome)
	rec.ActorID, rec.ActorEmail, rec.Target = u.ID, u.Email, "user:"+u.ID
	rec.Details = map[string]string{"kinds": strings.Join(kinds, ","), "device": ev.label}
	if action != "" {
		rec.Details["action"] = action
	}
	if ev.a.ImpossibleTravel {
		rec.Details["speed_kmh"] = fmt.Sprintf("%.0f", ev.a.SpeedKmh)
		rec.Details["distance_km"] = fmt.Sprintf("%.0f", ev.a.DistanceKm)
	}
	if ev.cur.HasLoc {
		rec.Details["country"] = ev.cur.Loc.Country
	}
	err := p.writeAudit(ctx, req, rec)
	if p.Metrics != nil {
		for _, k := range kinds {
			p.Metrics.Anomaly(k)
		}
	}
	place := ""
	if ev.cur.HasLoc {
		place = strings.TrimPrefix(ev.cur.Loc.City+", "+ev.cur.Loc.Country, ", ")
	}
	p.mail(ctx, req, u.Email, notify.KindNewSignIn, notify.NewSignIn{TenantName: req.Tenant.Name, UserEmail: u.Email,
		Anomalies: kinds, Device: ev.label, IP: req.ClientIP, Location: place, At: ev.cur.At, SecurityURL: p.link(r, req, "/settings/security")})
	return err
}

// errAnomalyBlocked: the tenant refuses unusual sign-ins (of this user).
var errAnomalyBlocked = errors.New("unusual sign-in refused by policy")

// anomalyGate applies the tenant's anomaly action after a correct password: "block"
// refuses an unusual sign-in; "second_factor" refuses it to users who have no second
// factor to prove themselves with (users with one must use it anyway). Refusals are
// audited and e-mailed. A failure to assess fails closed only under these actions.
func (p *Portal) anomalyGate(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User, need authn.Requirement) error {
	s, err := req.Handle.Settings().SecuritySettings(ctx)
	if err != nil {
		return errUnavailable
	}
	switch s.AnomalyAction {
	case "block":
	case "second_factor":
		if need.Step == authn.StepVerify {
			return nil
		}
	default:
		return nil
	}
	ev, err := p.evaluate(ctx, w, r, req, u)
	if err != nil {
		p.Logger.Error("assessing sign-in", zapErr(err))
		return errUnavailable
	}
	if !ev.a.Anomalous() {
		return nil
	}
	if p.reportAnomaly(ctx, r, req, u, ev, audit.Denied, s.AnomalyAction) != nil {
		return errUnavailable
	}
	return errAnomalyBlocked
}

// mail enqueues a message in the durable outbox (logged and dropped only if the outbox
// itself fails).
func (p *Portal) mail(ctx context.Context, req Request, to, kind string, data any) {
	if p.Notifier == nil {
		return
	}
	if _, err := p.Notifier.Notify(ctx, req.Tenant.ID, to, kind, data); err != nil {
		p.Logger.Error("queueing mail", zap.String("kind", kind), zapErr(err))
	}
}

// link builds an absolute link to a portal page for e-mails: BaseURL when configured,
// else the request's own scheme and host.
func (p *Portal) link(r *http.Request, req Request, path string) string {
	base := p.BaseURL
	if base == "" {
		scheme := "http"
		if req.HTTPS {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + p.Prefix + path
}

// lockedMail tells a user their account was locked.
func (p *Portal) lockedMail(ctx context.Context, r *http.Request, req Request, email string, d time.Duration) {
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return
	}
	p.mail(ctx, req, email, notify.KindAccountLocked, notify.AccountLocked{TenantName: req.Tenant.Name, UserEmail: email,
		LockDuration: d, LockedAt: p.Clock.Now(), IP: req.ClientIP, SignInURL: p.link(r, req, "/login")})
}
