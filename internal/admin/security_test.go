package admin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
)

// TestPermissionReviewSetting: the review mail is on by default; owners and admins
// (not members) turn it off and on like the other settings, each change audited with
// the old and new value; a change of another setting leaves it as it is.
func TestPermissionReviewSetting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	_, adm := f.user(t, "adm@acme.test", identity.RoleAdmin)
	_, member := f.user(t, "mem@acme.test", identity.RoleMember)
	if sec, err := f.svc.Security(ctx, f.ws); err != nil || !sec.PermissionReview {
		t.Fatalf("default: %+v %v", sec, err)
	}
	off, on := false, true
	if _, err := f.svc.UpdateSecurity(ctx, f.ws, member, SecurityChange{PermissionReview: &off}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("member turning the review off: %v", err)
	}
	// The review is the owners' check on what admins grant: an admin cannot switch it
	// off, though saving the other settings with it unchanged works.
	var fe *FieldError
	if _, err := f.svc.UpdateSecurity(ctx, f.ws, adm, SecurityChange{PermissionReview: &off}); !errors.As(err, &fe) || fe.Field != "permission_review" {
		t.Fatalf("admin turning the review off: %v", err)
	}
	if _, err := f.svc.UpdateSecurity(ctx, f.ws, adm, SecurityChange{PermissionReview: &on, Require2FA: &off}); err != nil {
		t.Fatalf("admin saving with the review unchanged: %v", err)
	}
	sec, err := f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{PermissionReview: &off})
	if err != nil || sec.PermissionReview {
		t.Fatalf("owner turning the review off: %+v %v", sec, err)
	}
	if set, err := f.ws.Settings().SecuritySettings(ctx); err != nil || !set.PermissionReviewOff || set.UpdatedBy != owner.UserID {
		t.Fatalf("stored: %+v %v", set, err)
	}
	rec := f.lastRecord(t)
	if rec.Action != audit.ActionSecuritySettings || rec.ActorID != owner.UserID || rec.Target != "tenant:acme" ||
		rec.Details["permission_review"] != "false" || rec.Details["was_permission_review"] != "true" {
		t.Fatalf("audit record: %+v", rec)
	}
	// Another setting's change keeps it off.
	if sec, err = f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{Require2FA: &on}); err != nil || sec.PermissionReview {
		t.Fatalf("after changing 2FA: %+v %v", sec, err)
	}
	if rec := f.lastRecord(t); rec.Details["permission_review"] != "false" || rec.Details["was_permission_review"] != "false" {
		t.Fatalf("audit record: %+v", rec)
	}
	if sec, err = f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{PermissionReview: &on}); err != nil || !sec.PermissionReview {
		t.Fatalf("owner turning it on again: %+v %v", sec, err)
	}
	if rec := f.lastRecord(t); rec.ActorID != owner.UserID || rec.Details["permission_review"] != "true" || rec.Details["was_permission_review"] != "false" {
		t.Fatalf("audit record: %+v", rec)
	}
}

// TestDisclosureContact: owners set the security.txt contact with an expiry in the
// future (at most a year ahead); bad contacts and expiries are refused by field; the
// file says Contact and Expires, and nothing once it has expired or the contact is
// removed.
func TestDisclosureContact(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	now := f.svc.Clock.Now()
	in := func(d time.Duration) *time.Time { at := now.Add(d); return &at }
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		ch    SecurityChange
		field string
	}{
		{SecurityChange{DisclosureContact: str("security@acme.test")}, "disclosure_contact"},
		{SecurityChange{DisclosureContact: str("http://acme.test/report")}, "disclosure_contact"},
		{SecurityChange{DisclosureContact: str("javascript:alert(1)")}, "disclosure_contact"},
		{SecurityChange{DisclosureContact: str("mailto:sec@acme.test\r\nExpires: 2099-01-01T00:00:00Z")}, "disclosure_contact"},
		{SecurityChange{DisclosureContact: str("mailto:sec@acme.test")}, "disclosure_expires"},
		{SecurityChange{DisclosureContact: str("mailto:sec@acme.test"), DisclosureExpires: in(-time.Hour)}, "disclosure_expires"},
		{SecurityChange{DisclosureContact: str("mailto:sec@acme.test"), DisclosureExpires: in(400 * 24 * time.Hour)}, "disclosure_expires"},
	} {
		var fe *FieldError
		if _, err := f.svc.UpdateSecurity(ctx, f.ws, owner, tc.ch); !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: %v, want a %s error", tc.ch, err, tc.field)
		}
	}
	if txt, _ := SecurityTxtOf(ctx, f.ws, "", now); txt != "" {
		t.Fatalf("security.txt before any contact: %q", txt)
	}
	exp := now.Add(180 * 24 * time.Hour).Truncate(time.Second)
	sec, err := f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{DisclosureContact: str("https://acme.test/security"), DisclosureExpires: &exp})
	if err != nil || sec.DisclosureContact != "https://acme.test/security" || !sec.DisclosureExpires.Equal(exp) {
		t.Fatalf("setting the contact: %+v %v", sec, err)
	}
	if rec := f.lastRecord(t); rec.Action != audit.ActionSecuritySettings || rec.Details["disclosure_contact"] != "https://acme.test/security" {
		t.Fatalf("audit record: %+v", rec)
	}
	want := "Contact: https://acme.test/security\nExpires: " + exp.UTC().Format(time.RFC3339) + "\nCanonical: https://acme.test/.well-known/security.txt\n"
	if txt, err := SecurityTxtOf(ctx, f.ws, "https://acme.test/.well-known/security.txt", now); err != nil || txt != want {
		t.Fatalf("security.txt:\n%s\nwant:\n%s (%v)", txt, want, err)
	}
	if txt, _ := SecurityTxtOf(ctx, f.ws, "", exp.Add(time.Second)); txt != "" {
		t.Fatalf("security.txt after its expiry: %q", txt)
	}
	if _, err := f.svc.UpdateSecurity(ctx, f.ws, owner, SecurityChange{DisclosureContact: str("")}); err != nil {
		t.Fatal(err)
	}
	if txt, _ := SecurityTxtOf(ctx, f.ws, "", now); txt != "" {
		t.Fatalf("security.txt after removing the contact: %q", txt)
	}
}
