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
	return id
}

// assessSignIn records a completed sign-in in the user's history and, when it looks
// unusual (new device, new country, impossible travel), audits it and e-mails the user.
// It never blocks the sign-in: failures are logged.
func (p *Portal) assessSignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, req Request, u store.User) {
	now := p.Clock.Now()
	label := risk.DeviceLabel(r.UserAgent())
	cur := risk.Event{At: now, IP: req.ClientIP, DeviceKey: risk.DeviceKey(p.deviceID(w, r, req), label)}
	if !u.NoLocationProfiling { // the user may object to location profiling
		if loc, ok := p.Risk.GeoIP.Lookup(req.ClientIP); ok {
			cur.Loc, cur.HasLoc = loc, true
		}
	}
	hist := req.Handle.LoginHistory()
	last, err := hist.LastLoginEvent(ctx, u.ID)
	first := errors.Is(err, store.ErrNotFound)
	if err != nil && !first {
		p.Logger.Error("reading sign-in history", zapErr(err))
		return
	}
	known := risk.Known{FirstSignIn: first}
	var prev *risk.Event
	if !first {
		// Travel is measured from the last sign-in with a location, so a sign-in from an
		// address the database does not know cannot hide a jump across the world.
		if located, err := hist.LastLocatedLoginEvent(ctx, u.ID); err == nil {
			last = located
		} else if !errors.Is(err, store.ErrNotFound) {
			p.Logger.Error("reading sign-in history", zapErr(err))
			return
		}
		prev = &risk.Event{At: last.At, IP: last.IP, HasLoc: last.HasLocation, DeviceKey: last.DeviceKey,
			Loc: risk.Location{Country: last.Country, City: last.City, Lat: last.Lat, Lon: last.Lon, AccuracyKm: last.AccuracyKm}}
		if known.DeviceSeen, err = hist.DeviceSeen(ctx, u.ID, cur.DeviceKey); err != nil {
			p.Logger.Error("reading known devices", zapErr(err))
			return
		}
		if cur.HasLoc {
			if known.CountrySeen, err = hist.CountrySeen(ctx, u.ID, cur.Loc.Country); err != nil {
				p.Logger.Error("reading known countries", zapErr(err))
				return
			}
		}
	}
	a := risk.Assess(prev, cur, known, risk.Config{MaxSpeedKmh: p.Risk.MaxSpeedKmh})
	ev := store.LoginEvent{UserID: u.ID, At: now, IP: req.ClientIP, HasLocation: cur.HasLoc, DeviceKey: cur.DeviceKey, DeviceLabel: label}
	if cur.HasLoc {
		ev.Country, ev.City, ev.Lat, ev.Lon, ev.AccuracyKm = cur.Loc.Country, cur.Loc.City, cur.Loc.Lat, cur.Loc.Lon, cur.Loc.AccuracyKm
	}
	if err := hist.AddLoginEvent(ctx, ev); err != nil {
		p.Logger.Error("recording sign-in history", zapErr(err))
	}
	if !a.Anomalous() {
		return
	}
	kinds := a.Kinds()
	rec := auditRecord(r, req, audit.ActionLoginAnomaly, audit.Success)
	rec.ActorID, rec.ActorEmail, rec.Target = u.ID, u.Email, "user:"+u.ID
	rec.Details = map[string]string{"kinds": strings.Join(kinds, ","), "device": label}
	if a.ImpossibleTravel {
		rec.Details["speed_kmh"] = fmt.Sprintf("%.0f", a.SpeedKmh)
		rec.Details["distance_km"] = fmt.Sprintf("%.0f", a.DistanceKm)
	}
	if cur.HasLoc {
		rec.Details["country"] = cur.Loc.Country
	}
	_ = p.writeAudit(ctx, req, rec)
	if p.Metrics != nil {
		for _, k := range kinds {
			p.Metrics.Anomaly(k)
		}
	}
	place := ""
	if cur.HasLoc {
		place = strings.TrimPrefix(cur.Loc.City+", "+cur.Loc.Country, ", ")
	}
	p.mail(ctx, req, u.Email, notify.KindNewSignIn, notify.NewSignIn{TenantName: req.Tenant.Name, UserEmail: u.Email,
		Anomalies: kinds, Device: label, IP: req.ClientIP, Location: place, At: now, SecurityURL: p.link(r, req, "/settings/security")})
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
