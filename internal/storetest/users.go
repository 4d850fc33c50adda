package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

var userTests = []test{
	{"CreateAndLookup", testUserLookup},
	{"EmailUniquePerTenant", testUserEmailUnique},
	{"ListAndCount", testUserList},
	{"Updates", testUserUpdates},
	{"LocationProfilingObjection", testUserNoLocationProfiling},
	{"RolesAndStatus", testUserRolesAndStatus},
	{"LastOwnerByRole", testLastOwnerRole},
	{"LastOwnerByStatus", testLastOwnerStatus},
	{"LastOwnerOtherTenants", testLastOwnerOtherTenants},
	{"LastOwnerConcurrent", testLastOwnerConcurrent},
	{"LastOwnerConcurrentMany", testLastOwnerConcurrentMany},
}

func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	if got.ID != want.ID || got.TenantID != want.TenantID || got.Email != want.Email ||
		got.DisplayName != want.DisplayName || got.PasswordHash != want.PasswordHash || got.Status != want.Status {
		t.Errorf("%s: got %+v, want %+v", what, got, want)
	}
	// nil and empty lists are the same thing.
	if !slices.Equal(got.Roles, want.Roles) || !slices.Equal(got.Teams, want.Teams) {
		t.Errorf("%s: roles %q teams %q, want %q %q", what, got.Roles, got.Teams, want.Roles, want.Teams)
	}
	sameTime(t, what+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, what+" LastLoginAt", got.LastLoginAt, want.LastLoginAt)
}

func testUserLookup(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	want := store.User{
		ID:           "us-" + randHex(6),
		TenantID:     "some-other-tenant", // ignored: the handle's tenant is used
		Email:        "ada-" + randHex(4) + "@example.test",
		DisplayName:  "Ada Lovelace",
		PasswordHash: "$2a$12$abcdefghijklmnopqrstuv",
		Status:       store.UserRestricted,
		Roles:        []string{"owner", "admin"},
		Teams:        []string{"eng"},
		CreatedAt:    base.In(time.FixedZone("UTC+5", 5*3600)), // any zone in, same instant out
	}
	noErr(t, "CreateUser", h.Users().CreateUser(ctx(t), want))
	want.TenantID = h.TenantID()

	got, err := h.Users().UserByID(ctx(t), want.ID)
	noErr(t, "UserByID", err)
	checkUser(t, "UserByID", got, want)

	got, err = h.Users().UserByEmail(ctx(t), want.Email)
	noErr(t, "UserByEmail", err)
	checkUser(t, "UserByEmail", got, want)

	_, err = h.Users().UserByID(ctx(t), "us-missing")
	wantErr(t, "UserByID unknown", err, store.ErrNotFound)
	_, err = h.Users().UserByEmail(ctx(t), "missing@example.test")
	wantErr(t, "UserByEmail unknown", err, store.ErrNotFound)
}

func testUserEmailUnique(t *testing.T, st store.Store) {
	a, b := st.Tenant(newTenant(t, st).ID), st.Tenant(newTenant(t, st).ID)
	u := newUser(t, a)

	dup := store.User{ID: "us-" + randHex(6), Email: u.Email, Status: store.UserActive}
	wantErr(t, "CreateUser with taken e-mail", a.Users().CreateUser(ctx(t), dup), store.ErrConflict)

	dupID := store.User{ID: u.ID, Email: "other-" + randHex(4) + "@example.test", Status: store.UserActive}
	wantErr(t, "CreateUser with taken id", a.Users().CreateUser(ctx(t), dupID), store.ErrConflict)

	// The same e-mail in another tenant is another account.
	noErr(t, "CreateUser same e-mail in other tenant", b.Users().CreateUser(ctx(t), dup))
	got, err := b.Users().UserByEmail(ctx(t), u.Email)
	noErr(t, "UserByEmail in other tenant", err)
	if got.ID != dup.ID || got.TenantID != b.TenantID() {
		t.Errorf("other tenant's user: got %s/%s, want %s/%s", got.TenantID, got.ID, b.TenantID(), dup.ID)
	}
	got, err = a.Users().UserByEmail(ctx(t), u.Email)
	noErr(t, "UserByEmail in first tenant", err)
	if got.ID != u.ID {
		t.Errorf("first tenant's user: got %s, want %s", got.ID, u.ID)
	}
}

func testUserList(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	n, err := h.Users().CountUsers(ctx(t))
	noErr(t, "CountUsers empty", err)
	list, err := h.Users().ListUsers(ctx(t))
	noErr(t, "ListUsers empty", err)
	if n != 0 || len(list) != 0 {
		t.Fatalf("new tenant: %d users counted, %d listed; want none", n, len(list))
	}

	var want []store.User
	for range 5 {
		want = append(want, newUser(t, h))
	}
	slices.SortFunc(want, func(x, y store.User) int { return strings.Compare(x.Email, y.Email) })

	n, err = h.Users().CountUsers(ctx(t))
	noErr(t, "CountUsers", err)
	if n != len(want) {
		t.Errorf("CountUsers = %d, want %d", n, len(want))
	}
	list, err = h.Users().ListUsers(ctx(t))
	noErr(t, "ListUsers", err)
	if len(list) != len(want) {
		t.Fatalf("ListUsers returned %d users, want %d", len(list), len(want))
	}
	for i := range want {
		checkUser(t, "ListUsers entry (ordered by e-mail)", list[i], want[i])
	}
}

func testUserUpdates(t *testing.T, st store.Store) {
	h := st.Tenant(newTenant(t, st).ID)
	u, other := newUser(t, h), newUser(t, h)

	noErr(t, "SetPasswordHash", h.Users().SetPasswordHash(ctx(t), u.ID, "$2a$12$new"))
	login := base.Add(90 * time.Minute)
	noErr(t, "SetLastLogin", h.Users().SetLastLogin(ctx(t), u.ID, login))
	noErr(t, "SetDisplayName", h.Users().SetDisplayName(ctx(t), u.ID, "Grace Hopper"))
	u.PasswordHash, u.LastLoginAt, u.DisplayName = "$2a$12$new", login, "Grace Hopper"

	got, err := h.Users().UserByID(ctx(t), u.ID)
	noErr(t, "UserByID after updates", err)
	checkUser(t, "updated user", got, u)

	// Updates touch only their own user.
	got, err = h.Users().UserByID(ctx(t), other.ID)
	noErr(t, "UserByID other", err)
	checkUser(t, "other user", got, other)

	wantErr(t, "SetPasswordHash unknown", h.Users().SetPasswordHash(ctx(t), "us-missing", "x"), store.ErrNotFound)
	wantErr(t, "SetLastLogin unknown", h.Users().SetLastLogin(ctx(t), "us-missing", login), store.ErrNotFound)
	wantErr(t, "SetDisplayName unknown", h.Users().SetDisplayName(ctx(t), "us-missing", "x"), store.ErrNotFound)
}

func testUserNoLocationProfiling(t *testing.T, st store.Store) {
	a := st.Tenant(newTenant(t, st).ID)
	b := st.Tenant(newTenant(t, st).ID)
	u := newUser(t, a)
	if got, _ := a.Users().UserByID(ctx(t), u.ID); got.NoLocationProfiling {
		t.Fatal("a new user objects by default")
	}
	noErr(t, "SetNoLocationProfiling", a.Users().SetNoLocationProfiling(ctx(t), u.ID, true))
	if got, _ := a.Users().UserByID(ctx(t), u.ID); !got.NoLocationProfiling {
		t.Fatal("objection not stored")
	}
	if err := b.Users().SetNoLocationProfiling(ctx(t), u.ID, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant changed the objection: %v", err)
	}
	if got, _ := a.Users().UserByID(ctx(t), u.ID); !got.NoLocationProfiling {
		t.Fatal("objection changed through another tenant")
	}
}
