package admin

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Limits of the security settings.
const (
	MaxGrace            = 90 * 24 * time.Hour
	MaxLockoutThreshold = 100
)

// Security is a workspace's sign-in policy as it is in effect: defaults filled in, the
// tenant's own lockout values (0: the gateway's) next to the ones that apply.
type Security struct {
	Require2FA        bool
	Require2FASince   time.Time // when "require 2FA" was switched on
	Grace             time.Duration
	PasskeysForAdmins bool
	AnomalyAction     string              // alert, second_factor or block
	Lockout           authn.LockoutPolicy // in effect
	LockoutOverride   authn.LockoutPolicy // the tenant's own; zero fields: the gateway's
	// PermissionReview: the owners get the periodic permission review by e-mail (the
	// default; store.SecuritySettings.PermissionReviewOff is its opposite).
	PermissionReview bool
	// DisclosureContact and DisclosureExpires make the workspace's security.txt.
	DisclosureContact string
	DisclosureExpires time.Time
	UpdatedAt         time.Time
	UpdatedBy         string
}

// Security reads the workspace's policy.
func (s *Service) Security(ctx context.Context, ws store.Workspace) (Security, error) {
	set, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return Security{}, fmt.Errorf("reading security settings: %w", err)
	}
	return s.view(set), nil
}

func (s *Service) view(set store.SecuritySettings) Security {
	out := Security{
		Require2FA: set.Require2FA, Require2FASince: set.Require2FASince, Grace: set.GracePeriod,
		PasskeysForAdmins: set.RequirePasskeysForAdmins, AnomalyAction: set.AnomalyAction,
		LockoutOverride:   authn.LockoutPolicy{Threshold: set.LockoutThreshold, Base: set.LockoutDuration, Max: set.LockoutMax},
		PermissionReview:  !set.PermissionReviewOff,
		DisclosureContact: set.DisclosureContact, DisclosureExpires: set.DisclosureExpires,
		UpdatedAt: set.UpdatedAt, UpdatedBy: set.UpdatedBy,
	}
	if out.Grace <= 0 && set.UpdatedAt.IsZero() {
		out.Grace = authn.DefaultGracePeriod // never configured; a configured 0 means no grace
	}
	if out.AnomalyAction == "" {
		out.AnomalyAction = authn.AnomalyAlert
	}
	out.Lockout = (&authn.Lockout{}).Merge(out.LockoutOverride)
	if s.Lockout != nil {
		out.Lockout = s.Lockout.Merge(out.LockoutOverride)
	}
	return out
}

// SecurityChange is a change to the policy; nil fields stay as they are. The page, the
// API and the CLI all translate into it.
type SecurityChange struct {
	Require2FA        *bool
	Grace             *time.Duration
	PasskeysForAdmins *bool
	AnomalyAction     *string
	LockoutThreshold  *int           // 0: the gateway's
	LockoutDuration   *time.Duration // 0: the gateway's
	LockoutMax        *time.Duration // 0: the gateway's
	PermissionReview  *bool          // false: no permission-review mail for this tenant
	// DisclosureContact is a mailto: or https: URI ("" removes the security.txt);
	// DisclosureExpires must be in the future, at most a year ahead (RFC 9116).
	DisclosureContact *string
	DisclosureExpires *time.Time
}

// validate reports the first unusable value as a *FieldError.
func (c SecurityChange) validate() error {
	switch {
	case c.Grace != nil && (*c.Grace < 0 || *c.Grace > MaxGrace):
		return &FieldError{Field: "grace_period", Msg: "must be from 0 to 90 days"}
	case c.AnomalyAction != nil && !authn.ValidAnomalyAction(*c.AnomalyAction):
		return &FieldError{Field: "anomaly_action", Msg: "must be alert, second_factor or block"}
	case c.LockoutThreshold != nil && (*c.LockoutThreshold < 0 || *c.LockoutThreshold > MaxLockoutThreshold):
		return &FieldError{Field: "lockout_threshold", Msg: "must be from 0 (the gateway's default) to 100"}
	case c.LockoutDuration != nil && *c.LockoutDuration < 0:
		return &FieldError{Field: "lockout_duration", Msg: "must not be negative (0: the gateway's default)"}
	case c.LockoutMax != nil && *c.LockoutMax < 0:
		return &FieldError{Field: "lockout_max", Msg: "must not be negative (0: the gateway's default)"}
	case c.DisclosureContact != nil && *c.DisclosureContact != "" && !validDisclosureContact(*c.DisclosureContact):
		return &FieldError{Field: "disclosure_contact", Msg: "must be a mailto: or https: address"}
	}
	return nil
}

// UpdateSecurity changes the workspace's policy (owners and admins; the permission
// review mail owners only) and audits the old
// and new values. Switching "require 2FA" on starts the grace period for everyone
// without a second factor; it keeps its start while it stays on.
func (s *Service) UpdateSecurity(ctx context.Context, ws store.Workspace, by Admin, c SecurityChange) (Security, error) {
	if !by.IsAdmin() {
		return Security{}, ErrForbidden
	}
	if err := c.validate(); err != nil {
		return Security{}, err
	}
	old, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return Security{}, fmt.Errorf("reading security settings: %w", err)
	}
	cur := s.view(old)
	req2, grace, pka := cur.Require2FA, cur.Grace, cur.PasskeysForAdmins
	set(&req2, c.Require2FA)
	set(&grace, c.Grace)
	set(&pka, c.PasskeysForAdmins)
	next := authn.UpdateSettings(old, req2, grace, pka, by.UserID, s.Clock.Now())
	set(&next.AnomalyAction, c.AnomalyAction)
	set(&next.LockoutThreshold, c.LockoutThreshold)
	set(&next.LockoutDuration, c.LockoutDuration)
	set(&next.LockoutMax, c.LockoutMax)
	if c.PermissionReview != nil && *c.PermissionReview == old.PermissionReviewOff {
		// The review is the owners' check on what admins grant: only owners switch it.
		if !by.IsOwner() {
			return Security{}, &FieldError{Field: "permission_review", Msg: "only owners turn the permission review on or off"}
		}
		next.PermissionReviewOff = !*c.PermissionReview
	}
	set(&next.DisclosureContact, c.DisclosureContact)
	set(&next.DisclosureExpires, c.DisclosureExpires)
	if c.DisclosureContact != nil || c.DisclosureExpires != nil {
		if err := checkDisclosure(next.DisclosureContact, next.DisclosureExpires, s.Clock.Now()); err != nil {
			return Security{}, err
		}
	}
	if next.LockoutMax > 0 && next.LockoutDuration > next.LockoutMax {
		return Security{}, &FieldError{Field: "lockout_max", Msg: "must not be below the lockout duration"}
	}
	if err := ws.Settings().PutSecuritySettings(ctx, next); err != nil {
		return Security{}, fmt.Errorf("saving security settings: %w", err)
	}
	details := map[string]string{
		"require_2fa": strconv.FormatBool(next.Require2FA), "grace": next.GracePeriod.String(),
		"require_passkeys_for_admins": strconv.FormatBool(next.RequirePasskeysForAdmins),
		"anomaly_action":              next.AnomalyAction,
		"lockout_threshold":           strconv.Itoa(next.LockoutThreshold),
		"lockout_duration":            next.LockoutDuration.String(), "lockout_max": next.LockoutMax.String(),
		"was_require_2fa":                 strconv.FormatBool(old.Require2FA),
		"was_require_passkeys_for_admins": strconv.FormatBool(old.RequirePasskeysForAdmins),
		"was_anomaly_action":              old.AnomalyAction,
		"permission_review":               strconv.FormatBool(!next.PermissionReviewOff),
		"was_permission_review":           strconv.FormatBool(!old.PermissionReviewOff),
		"disclosure_contact":              next.DisclosureContact,
	}
	if err := s.record(ctx, ws, by, audit.ActionSecuritySettings, "tenant:"+ws.Slug, details); err != nil {
		return Security{}, err
	}
	return s.view(next), nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// FormatDuration writes d the way people give it: 7d, 24h, 15m, 90s (0 for none).
func FormatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d%(24*time.Hour) == 0 && d >= 48*time.Hour:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// validDisclosureContact accepts what RFC 9116 allows for Contact and a browser or mail
// client can act on: a mailto: address or an https: URL, one line, no spaces.
func validDisclosureContact(c string) bool {
	if len(c) > 500 || strings.ContainsAny(c, " \t\r\n") {
		return false
	}
	u, err := url.Parse(c)
	if err != nil {
		return false
	}
	switch u.Scheme {
	case "mailto":
		return strings.Contains(u.Opaque, "@")
	case "https":
		return u.Host != ""
	}
	return false
}

// checkDisclosure: a contact needs an expiry in the future, at most a year ahead
// (RFC 9116 §2.5.5 recommends less than a year).
func checkDisclosure(contact string, expires, now time.Time) error {
	if contact == "" {
		return nil
	}
	switch {
	case expires.IsZero():
		return &FieldError{Field: "disclosure_expires", Msg: "is required with a disclosure contact (RFC 3339, e.g. 2027-06-30T00:00:00Z)"}
	case !expires.After(now):
		return &FieldError{Field: "disclosure_expires", Msg: "must be in the future"}
	case expires.After(now.Add(366 * 24 * time.Hour)):
		return &FieldError{Field: "disclosure_expires", Msg: "must be at most a year ahead (RFC 9116)"}
	}
	return nil
}

// SecurityTxtOf reads the workspace's settings and returns its security.txt (see
// SecurityTxt); "" when it has none.
func SecurityTxtOf(ctx context.Context, ws store.Workspace, canonical string, now time.Time) (string, error) {
	set, err := ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return "", fmt.Errorf("reading security settings: %w", err)
	}
	return SecurityTxt(set, canonical, now), nil
}

// SecurityTxt is the workspace's /.well-known/security.txt (RFC 9116), or "" when it
// has no disclosure contact or its expiry has passed (a stale file misleads).
func SecurityTxt(set store.SecuritySettings, canonical string, now time.Time) string {
	if set.DisclosureContact == "" || !set.DisclosureExpires.After(now) {
		return ""
	}
	var b strings.Builder
	b.WriteString("Contact: " + set.DisclosureContact + "\n")
	b.WriteString("Expires: " + set.DisclosureExpires.UTC().Format(time.RFC3339) + "\n")
	if canonical != "" {
		b.WriteString("Canonical: " + canonical + "\n")
	}
	return b.String()
}
