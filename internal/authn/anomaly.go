package authn

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/risk"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Anomaly actions a tenant may choose (SecuritySettings.AnomalyAction; "" = alert).
const (
	AnomalyAlert        = "alert"
	AnomalySecondFactor = "second_factor"
	AnomalyBlock        = "block"
)

// ValidAnomalyAction tells an accepted anomaly action.
func ValidAnomalyAction(a string) bool {
	return a == "" || a == AnomalyAlert || a == AnomalySecondFactor || a == AnomalyBlock
}

// evaluation is a sign-in's risk assessment before it is recorded.
type evaluation struct {
	cur   risk.Event
	label string
	a     risk.Assessment
}

// deviceID returns the client's device id, issuing one (reported in out) when it has
// none, so the same id is used for the whole sign-in.
func deviceID(c *Client, out *Outcome) string {
	if risk.ValidDeviceID(c.DeviceID) {
		return c.DeviceID
	}
	if out.DeviceID == "" {
		out.DeviceID = risk.NewDeviceID()
	}
	c.DeviceID = out.DeviceID
	return out.DeviceID
}

// evaluate assesses a sign-in of u against the user's history (new device, new
// country, impossible travel) without recording it.
func (s *SignIn) evaluate(ctx context.Context, ws store.Workspace, c *Client, u store.User, out *Outcome) (evaluation, error) {
	label := risk.DeviceLabel(c.UserAgent)
	ev := evaluation{label: label, cur: risk.Event{At: s.Clock.Now(), IP: c.IP, DeviceKey: risk.DeviceKey(deviceID(c, out), label)}}
	if !u.NoLocationProfiling && s.Locations != nil { // the user may object to location profiling
		if loc, ok := s.Locations.Lookup(c.IP); ok {
			ev.cur.Loc, ev.cur.HasLoc = loc, true
		}
	}
	hist := ws.LoginHistory()
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
	ev.a = risk.Assess(prev, ev.cur, known, risk.Config{MaxSpeedKmh: s.MaxSpeedKmh})
	return ev, nil
}

// assess records a completed sign-in in the user's history and, when it looks unusual,
// audits it and e-mails the user. It never blocks the sign-in (that is anomalyGate's
// job, before it): failures are logged.
func (s *SignIn) assess(ctx context.Context, ws store.Workspace, c Client, u store.User, out *Outcome) {
	ev, err := s.evaluate(ctx, ws, &c, u, out)
	if err != nil {
		s.log().Error("assessing sign-in", zap.Error(err))
		return
	}
	rec := store.LoginEvent{UserID: u.ID, At: ev.cur.At, IP: c.IP, HasLocation: ev.cur.HasLoc, DeviceKey: ev.cur.DeviceKey, DeviceLabel: ev.label}
	if ev.cur.HasLoc {
		l := ev.cur.Loc
		rec.Country, rec.City, rec.Lat, rec.Lon, rec.AccuracyKm = l.Country, l.City, l.Lat, l.Lon, l.AccuracyKm
	}
	if err := ws.LoginHistory().AddLoginEvent(ctx, rec); err != nil {
		s.log().Error("recording sign-in history", zap.Error(err))
	}
	if ev.a.Anomalous() {
		_ = s.reportAnomaly(ctx, ws, c, u, ev, audit.Success, "")
	}
}

// anomalyGate applies the tenant's anomaly action after a correct password: "block"
// refuses an unusual sign-in; "second_factor" refuses it to users who have no second
// factor to prove themselves with (users with one must use it anyway). Refusals are
// audited and e-mailed, and set out.Status to Blocked. A failure to assess fails closed
// only under these actions.
func (s *SignIn) anomalyGate(ctx context.Context, ws store.Workspace, c Client, u store.User, need Requirement, out *Outcome) (bool, error) {
	set, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return false, fmt.Errorf("reading security settings: %w", err)
	}
	switch set.AnomalyAction {
	case AnomalyBlock:
	case AnomalySecondFactor:
		if need.Step == StepVerify {
			return false, nil
		}
	default:
		return false, nil
	}
	ev, err := s.evaluate(ctx, ws, &c, u, out)
	if err != nil {
		return false, err
	}
	if !ev.a.Anomalous() {
		return false, nil
	}
	if err := s.reportAnomaly(ctx, ws, c, u, ev, audit.Denied, set.AnomalyAction); err != nil {
		return false, err
	}
	out.Status = Blocked
	return true, nil
}

// reportAnomaly audits, counts and e-mails an unusual sign-in (outcome denied when the
// tenant's policy refused it).
func (s *SignIn) reportAnomaly(ctx context.Context, ws store.Workspace, c Client, u store.User, ev evaluation, outcome, action string) error {
	kinds := ev.a.Kinds()
	rec := audit.Event(audit.ActionLoginAnomaly, outcome, audit.Actor{UserID: u.ID, Email: u.Email}, c.Origin)
	rec.Target = audit.UserTarget(u.ID)
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
	err := s.Audit.Record(ctx, ws, rec)
	if s.Metrics != nil {
		for _, k := range kinds {
			s.Metrics.Anomaly(k)
		}
	}
	place := ""
	if ev.cur.HasLoc {
		place = strings.TrimPrefix(ev.cur.Loc.City+", "+ev.cur.Loc.Country, ", ")
	}
	s.mail(ctx, ws, u.Email, notify.KindNewSignIn, notify.NewSignIn{TenantName: ws.Name, UserEmail: u.Email,
		Anomalies: kinds, Device: ev.label, IP: c.IP, Location: place, At: ev.cur.At, SecurityURL: c.Link("/settings/security")})
	return err
}

// mail queues a message in the durable outbox (logged and dropped only if the outbox
// itself fails: mail is a courtesy, the audit record is the proof).
func (s *SignIn) mail(ctx context.Context, ws store.Workspace, to, kind string, data any) {
	if s.Mail == nil {
		return
	}
	if _, err := s.Mail.Notify(ctx, ws.TenantID(), to, kind, data); err != nil {
		s.log().Error("queueing mail", zap.String("kind", kind), zap.Error(err))
	}
}

// mailLocked tells a user their account was locked.
func (s *SignIn) mailLocked(ctx context.Context, ws store.Workspace, c Client, email string, d time.Duration) {
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return
	}
	s.mail(ctx, ws, email, notify.KindAccountLocked, notify.AccountLocked{TenantName: ws.Name, UserEmail: email,
		LockDuration: d, LockedAt: s.Clock.Now(), IP: c.IP, SignInURL: c.Link("/login")})
}
