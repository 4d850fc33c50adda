package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var tenantTests = []test{
	{"CreateAndLookup", testTenantLookup},
	{"Conflicts", testTenantConflicts},
	{"List", testTenantList},
}

func checkTenant(t *testing.T, what string, got, want store.Tenant) {
	t.Helper()
	if got.ID != want.ID || got.Slug != want.Slug || got.Name != want.Name {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	// Host order is not part of the contract.
	g, w := slices.Sorted(slices.Values(got.Hosts)), slices.Sorted(slices.Values(want.Hosts))
	if !slices.Equal(g, w) {
		t.Errorf("%s: hosts %q, want %q", what, g, w)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
}

func testTenantLookup(t *testing.T, st store.Store) {
	ts := st.Tenants()
	r := randHex(8)
	want := store.Tenant{
		ID: "tn-" + r, Slug: "st-" + r, Name: "Acme " + r,
		Hosts:     []string{"b-" + r + ".example.test", "a-" + r + ".example.test"},
		CreatedAt: base,
	}
	noErr(t, "CreateTenant", ts.CreateTenant(ctx(t), want))

	got, err := ts.TenantByID(ctx(t), want.ID)
	noErr(t, "TenantByID", err)
	checkTenant(t, "TenantByID", got, want)

	got, err = ts.TenantBySlug(ctx(t), want.Slug)
	noErr(t, "TenantBySlug", err)
	checkTenant(t, "TenantBySlug", got, want)

	for _, h := range want.Hosts {
		got, err = ts.TenantByHost(ctx(t), h)
		noErr(t, "TenantByHost "+h, err)
		checkTenant(t, "TenantByHost "+h, got, want)
	}

	// A tenant with no host names is fine and reads back with none.
	bare := store.Tenant{ID: "tn-" + randHex(8), Slug: "st-" + randHex(8), Name: "Bare"}
	noErr(t, "CreateTenant without hosts", ts.CreateTenant(ctx(t), bare))
	got, err = ts.TenantByID(ctx(t), bare.ID)
	noErr(t, "TenantByID bare", err)
	checkTenant(t, "bare tenant", got, bare)

	_, err = ts.TenantByID(ctx(t), "tn-missing-"+r)
	wantErr(t, "TenantByID unknown", err, store.ErrNotFound)
	_, err = ts.TenantBySlug(ctx(t), "missing-"+r)
	wantErr(t, "TenantBySlug unknown", err, store.ErrNotFound)
	_, err = ts.TenantByHost(ctx(t), "missing-"+r+".example.test")
	wantErr(t, "TenantByHost unknown", err, store.ErrNotFound)
}

func testTenantConflicts(t *testing.T, st store.Store) {
	ts := st.Tenants()
	a := newTenant(t, st)

	dupSlug := store.Tenant{ID: "tn-" + randHex(8), Slug: a.Slug, Name: "dup slug"}
	wantErr(t, "CreateTenant with taken slug", ts.CreateTenant(ctx(t), dupSlug), store.ErrConflict)

	dupID := store.Tenant{ID: a.ID, Slug: "st-" + randHex(8), Name: "dup id"}
	wantErr(t, "CreateTenant with taken id", ts.CreateTenant(ctx(t), dupID), store.ErrConflict)

	// A taken host must fail the whole creation: no tenant left half-made.
	dupHost := store.Tenant{ID: "tn-" + randHex(8), Slug: "st-" + randHex(8), Name: "dup host",
		Hosts: []string{"fresh-" + randHex(4) + ".example.test", a.Hosts[0]}}
	wantErr(t, "CreateTenant with taken host", ts.CreateTenant(ctx(t), dupHost), store.ErrConflict)
	_, err := ts.TenantByID(ctx(t), dupHost.ID)
	wantErr(t, "tenant after failed create", err, store.ErrNotFound)
	_, err = ts.TenantByHost(ctx(t), dupHost.Hosts[0])
	wantErr(t, "host of failed create", err, store.ErrNotFound)

	got, err := ts.TenantByHost(ctx(t), a.Hosts[0])
	noErr(t, "TenantByHost after conflicts", err)
	checkTenant(t, "original tenant", got, a)
}

func testTenantList(t *testing.T, st store.Store) {
	a, b := newTenant(t, st), newTenant(t, st)
	list, err := st.Tenants().ListTenants(ctx(t))
	noErr(t, "ListTenants", err)
	if !slices.IsSortedFunc(list, func(x, y store.Tenant) int { return strings.Compare(x.Slug, y.Slug) }) {
		t.Errorf("ListTenants not ordered by slug")
	}
	for _, want := range []store.Tenant{a, b} {
		i := slices.IndexFunc(list, func(x store.Tenant) bool { return x.ID == want.ID })
		if i < 0 {
			t.Errorf("ListTenants lacks %s", want.ID)
			continue
		}
		checkTenant(t, "ListTenants entry", list[i], want)
	}
}
