package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var settingsTests = []test{
	{"SecurityRoundTrip", testSettingsRoundTrip},
	{"RenameTenant", testRenameTenant},
}

// testRenameTenant: the name is set through the tenant's own handle, and only there.
func testRenameTenant(t *testing.T, st store.Store) {
	a, b := newTenant(t, st), newTenant(t, st)
	noErr(t, "RenameTenant", st.Tenant(a.ID).Settings().RenameTenant(ctx(t), "Salon Ruby"))
	got, err := st.Tenants().TenantByID(ctx(t), a.ID)
	noErr(t, "TenantByID", err)
	if got.Name != "Salon Ruby" || got.Slug != a.Slug {
		t.Fatalf("after rename: %+v", got)
	}
	other, err := st.Tenants().TenantByID(ctx(t), b.ID)
	noErr(t, "TenantByID", err)
	if other.Name != b.Name {
		t.Fatalf("renaming one tenant renamed another: %+v", other)
	}
	if err := st.Tenant("tn-missing").Settings().RenameTenant(ctx(t), "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RenameTenant of an unknown tenant: %v, want ErrNotFound", err)
	}
}

func checkSettings(t *testing.T, what string, got, want store.SecuritySettings) {
	t.Helper()
	if got.Require2FA != want.Require2FA || got.GracePeriod != want.GracePeriod ||
		got.RequirePasskeysForAdmins != want.RequirePasskeysForAdmins || got.UpdatedBy != want.UpdatedBy ||
		got.AnomalyAction != want.AnomalyAction || got.LockoutThreshold != want.LockoutThreshold ||
		got.LockoutDuration != want.LockoutDuration || got.LockoutMax != want.LockoutMax ||
		got.PermissionReviewOff != want.PermissionReviewOff || got.DisclosureContact != want.DisclosureContact {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	sameTime(t, what+" Require2FASince", got.Require2FASince, want.Require2FASince)
	sameTime(t, what+" DisclosureExpires", got.DisclosureExpires, want.DisclosureExpires)
	sameTime(t, what+" UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

func readSettings(t *testing.T, h store.TenantHandle) store.SecuritySettings {
	t.Helper()
	got, err := h.Settings().SecuritySettings(ctx(t))
	noErr(t, "SecuritySettings", err)
	return got
}

func testSettingsRoundTrip(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	checkSettings(t, "never set", readSettings(t, h), store.SecuritySettings{})

	strict := store.SecuritySettings{
		Require2FA:               true,
		Require2FASince:          base.In(time.FixedZone("UTC+9", 9*3600)),
		GracePeriod:              36*time.Hour + time.Nanosecond,
		RequirePasskeysForAdmins: true,
		AnomalyAction:            "block",
		LockoutThreshold:         7,
		LockoutDuration:          5 * time.Minute,
		LockoutMax:               3 * time.Hour,
		PermissionReviewOff:      true,
		DisclosureContact:        "mailto:security@example.test",
		DisclosureExpires:        base.Add(90 * 24 * time.Hour),
		UpdatedAt:                base.Add(time.Minute),
		UpdatedBy:                "us-" + randHex(6),
	}
	noErr(t, "PutSecuritySettings", h.Settings().PutSecuritySettings(ctx(t), strict))
	checkSettings(t, "after Put", readSettings(t, h), strict)

	// A second Put replaces everything, zero times and durations included (and turns
	// the review mail back on).
	relaxed := store.SecuritySettings{UpdatedAt: base.Add(time.Hour), UpdatedBy: "us-" + randHex(6)}
	noErr(t, "PutSecuritySettings again", h.Settings().PutSecuritySettings(ctx(t), relaxed))
	checkSettings(t, "after second Put", readSettings(t, h), relaxed)

	long := store.SecuritySettings{Require2FA: true, GracePeriod: 365 * 24 * time.Hour, UpdatedBy: "us-x"}
	noErr(t, "PutSecuritySettings long grace", h.Settings().PutSecuritySettings(ctx(t), long))
	checkSettings(t, "long grace period", readSettings(t, h), long)
}
