package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/policy"
)

// rolePages are the workspace's roles: everyone who administers sees them, owners
// change them (the use cases in internal/admin/roles.go decide who may).
type rolePages struct{ *Portal }

// permissionView is one permission, spelled and in words.
type permissionView struct{ Spelled, Words string }

// roleView is a role as the pages show it.
type roleView struct {
	admin.RoleInfo
	Perms []permissionView
	// Fixed: the owner role, which nobody changes.
	Fixed bool
}

// roleForm is what the role form holds: the stored role, or what was typed — with
// what is wrong with it (Problem) and the field to look at (Field).
type roleForm struct{ Name, Description, Permissions, Field, Problem string }

type rolesPage struct {
	Roles []roleView
	Owner bool // the viewer may change roles
	Add   roleForm
	// Deleted: the roles deleted within the restore window.
	Deleted []admin.DeletedRole
}

type rolePage struct {
	Role  roleView
	Owner bool
	Form  roleForm
}

func viewRole(r admin.RoleInfo) roleView {
	v := roleView{RoleInfo: r, Fixed: r.Name == policy.RoleOwner}
	if v.Fixed {
		v.Perms = []permissionView{{Spelled: "*:*:tenant", Words: "Everything, always, across the workspace — including making other owners"}}
		return v
	}
	for _, p := range r.Permissions {
		v.Perms = append(v.Perms, permissionView{Spelled: p.String(), Words: permissionWords(p)})
	}
	return v
}

// permissionWords says what a permission allows in words: "read deals: their own
// records".
func permissionWords(p policy.Permission) string {
	action, resource := p.Action, p.Resource
	switch {
	case action == "*" && resource == "*":
		action, resource = "Anything", "on every resource"
	case action == "*":
		action, resource = "Anything", "on "+resource
	case resource == "*":
		action, resource = strings.ToUpper(action[:1])+action[1:], "every resource"
	default:
		action = strings.ToUpper(action[:1]) + action[1:]
	}
	var scope string
	switch p.Scope {
	case policy.ScopeOwn:
		scope = "their own records"
	case policy.ScopeTeam:
		scope = "their teams' records"
	case policy.ScopeTenant:
		scope = "across the workspace"
	}
	return action + " " + resource + ": " + scope
}

// rolesPage lists the workspace's roles, with the form to add one (owners).
func (p rolePages) rolesPage(c *call) error {
	return p.renderRoles(c, http.StatusOK, "", "", roleForm{})
}

func (p rolePages) renderRoles(c *call, status int, notice, errMsg string, add roleForm) error {
	by := p.adminOf(c)
	list, err := p.Admin.Roles().List(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	deleted, err := p.Admin.Roles().Deleted(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	page := rolesPage{Owner: by.IsOwner(), Add: add, Deleted: deleted}
	for _, r := range list {
		page.Roles = append(page.Roles, viewRole(r))
	}
	p.render(c, status, "roles", pageInfo{Title: "Roles", Nav: "roles", Wide: true, Notice: notice, Error: errMsg}, page)
	return nil
}

// rolePage shows one role, with the form to change its permissions (owners).
func (p rolePages) rolePage(c *call) error {
	return p.renderRole(c, http.StatusOK, c.r.PathValue("name"), "", "", nil)
}

func (p rolePages) renderRole(c *call, status int, name, notice, errMsg string, typed *roleForm) error {
	if typed != nil && typed.Problem != "" && errMsg == "" {
		errMsg = "Not saved. " + typed.Problem
	}
	by := p.adminOf(c)
	r, err := p.Admin.Roles().Get(c.r.Context(), c.Workspace, by, name)
	if err != nil {
		return roleError(p.Portal, err, name)
	}
	form := roleForm{Name: r.Name, Description: r.Description, Permissions: strings.Join(r.PermissionStrings(), "\n")}
	if typed != nil {
		form = *typed
	}
	p.render(c, status, "role", pageInfo{Title: "Role " + r.Name, Nav: "roles", Wide: true, Notice: notice, Error: errMsg},
		rolePage{Role: viewRole(r), Owner: by.IsOwner(), Form: form})
	return nil
}

// formSpec reads the role form: one permission per line (commas separate too, so a
// pasted list works).
func formSpec(c *call, name string) (policy.RoleSpec, roleForm) {
	f := roleForm{Name: name, Description: c.r.PostFormValue("description"), Permissions: c.r.PostFormValue("permissions")}
	perms := strings.FieldsFunc(f.Permissions, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' })
	return policy.RoleSpec{Name: name, Description: f.Description, Permissions: perms}, f
}

// roleAddForm adds a role (POST /admin/roles); a mistake shows the page again with
// what was typed and, at the form, what is wrong.
func (p rolePages) roleAddForm(c *call) error {
	spec, typed := formSpec(c, strings.TrimSpace(c.r.PostFormValue("name")))
	r, err := p.Admin.Roles().Add(c.r.Context(), c.Workspace, p.adminOf(c), spec)
	if err != nil {
		m, ok := mistakeOf(roleError(p.Portal, err, spec.Name), "name")
		if !ok {
			return roleError(p.Portal, err, spec.Name)
		}
		typed.Field, typed.Problem = m.field, m.msg
		return p.renderRoles(c, m.status, "", "The role was not added. "+m.msg, typed)
	}
	return p.renderRoles(c, http.StatusOK, "Role "+r.Name+" added: give it to members on their pages (Members).", "", roleForm{})
}

// roleSaveForm changes a role's permissions (POST /admin/roles/{name}).
func (p rolePages) roleSaveForm(c *call) error {
	name := c.r.PathValue("name")
	spec, typed := formSpec(c, name)
	_, err := p.Admin.Roles().Set(c.r.Context(), c.Workspace, p.adminOf(c), spec)
	if err != nil {
		m, ok := mistakeOf(roleError(p.Portal, err, name), "permissions")
		if !ok {
			return roleError(p.Portal, err, name)
		}
		typed.Field, typed.Problem = m.field, m.msg
		return p.renderRole(c, m.status, name, "", "", &typed)
	}
	return p.renderRole(c, http.StatusOK, name, "Saved. Members holding "+name+" have the new permissions from their next request.", "", nil)
}

// roleDeleteForm deletes a role of the workspace's own or resets a built-in one
// (POST /admin/roles/{name}/delete).
func (p rolePages) roleDeleteForm(c *call) error {
	name := c.r.PathValue("name")
	d, err := p.Admin.Roles().Delete(c.r.Context(), c.Workspace, p.adminOf(c), name)
	if err != nil {
		if m, ok := mistakeOf(roleError(p.Portal, err, name), ""); ok {
			return p.renderRole(c, m.status, name, "", m.msg, nil)
		}
		return roleError(p.Portal, err, name)
	}
	msg := "Role " + name + " deleted: it grants nothing now. It can be restored under Deleted roles for 30 days."
	if d.Reset {
		msg = "Role " + name + " is back to its default permissions."
	}
	return p.renderRoles(c, http.StatusOK, msg, "", roleForm{})
}

// mistake is something typed into a form that cannot be used, to show at the form:
// the field to look at and a sentence saying what is wrong.
type mistake struct {
	status     int
	field, msg string
}

// mistakeOf tells a mistake (a bad value, a name taken, a role held) from the errors
// that get a page of their own (refusals, failures, re-authentication); field is the
// field a mistake without one of its own is about.
func mistakeOf(err error, field string) (mistake, bool) {
	var fe *admin.FieldError
	if errors.As(err, &fe) {
		return mistake{status: http.StatusBadRequest, field: fe.Field, msg: sentence(fe.Msg)}, true
	}
	var he *httpError
	if errors.As(err, &he) && (he.status == http.StatusBadRequest || he.status == http.StatusConflict) {
		return mistake{status: he.status, field: field, msg: he.msg}, true
	}
	return mistake{}, false
}

// sentence makes a use case's message a sentence: capital first, full stop last.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// roleError translates the role use cases' errors; each leads back to the roles.
func roleError(p *Portal, err error, name string) error {
	back, text := p.path("/admin/roles"), "Back to the roles"
	switch {
	case errors.Is(err, admin.ErrForbidden):
		return errorf(http.StatusForbidden, "only_owners_change_roles", "Only owners change roles.").goOn(back, text)
	case errors.Is(err, admin.ErrOwnerFixed):
		return errorf(http.StatusConflict, "owner_role_fixed", "The owner role always has everything: it cannot be changed or deleted.").goOn(back, text)
	case errors.Is(err, admin.ErrNoSuchRole):
		return errorf(http.StatusNotFound, "no_such_role", "This workspace has no role "+quoteName(name)+".").goOn(back, text)
	case errors.Is(err, admin.ErrRoleDeletedName):
		return errorf(http.StatusConflict, "role_deleted", "A deleted role is named "+quoteName(name)+": restore it under Deleted roles, or choose another name.").
			goOn(back, text)
	case errors.Is(err, admin.ErrRoleExists):
		return errorf(http.StatusConflict, "role_exists", "A role "+quoteName(name)+" exists already: change it on its own page (Edit, in the table).").
			goOn(p.path("/admin/roles/"+url.PathEscape(name)), "Edit "+name)
	}
	return err
}

// quoteName quotes a name typed by someone for a message.
func quoteName(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return "“" + s + "”"
}

// roleJSON is a role as the API shows it.
func roleJSON(r admin.RoleInfo) map[string]any {
	v := viewRole(r)
	words := make([]string, len(v.Perms))
	for i, p := range v.Perms {
		words[i] = p.Words
	}
	perms := r.PermissionStrings()
	if v.Fixed {
		perms = []string{"*:*:tenant"}
	}
	return map[string]any{"name": r.Name, "description": r.Description, "permissions": perms, "permissions_in_words": words,
		"builtin": r.Builtin, "changed": r.Changed, "members": r.Members, "editable": !v.Fixed}
}

// apiRoles: GET /api/v1/admin/roles.
func (p rolePages) apiRoles(c *call) error {
	list, err := p.Admin.Roles().List(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return roleError(p.Portal, err, "")
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		out[i] = roleJSON(r)
	}
	deleted, err := p.deletedRolesJSON(c)
	if err != nil {
		return roleError(p.Portal, err, "")
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"roles": out, "deleted": deleted})
	return nil
}

// apiRole: GET /api/v1/admin/roles/{name}.
func (p rolePages) apiRole(c *call) error {
	name := c.r.PathValue("name")
	r, err := p.Admin.Roles().Get(c.r.Context(), c.Workspace, p.adminOf(c), name)
	if err != nil {
		return roleError(p.Portal, err, name)
	}
	writeJSON(c.w, http.StatusOK, roleJSON(r))
	return nil
}

// apiRoleSet: PUT /api/v1/admin/roles/{name} {"description","permissions":[…]} → the
// role (201 when it is new).
func (p rolePages) apiRoleSet(c *call) error {
	var body struct {
		Description string   `json:"description"`
		Permissions []string `json:"permissions"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	name := c.r.PathValue("name")
	by := p.adminOf(c)
	_, getErr := p.Admin.Roles().Get(c.r.Context(), c.Workspace, by, name)
	r, err := p.Admin.Roles().Set(c.r.Context(), c.Workspace, by, policy.RoleSpec{Name: name, Description: body.Description, Permissions: body.Permissions})
	if err != nil {
		return roleError(p.Portal, err, name)
	}
	status := http.StatusOK
	if errors.Is(getErr, admin.ErrNoSuchRole) {
		status = http.StatusCreated
	}
	writeJSON(c.w, status, roleJSON(r))
	return nil
}

// apiRoleDelete: DELETE /api/v1/admin/roles/{name} → {"deleted"} or {"reset"} (a
// built-in role back to its default).
func (p rolePages) apiRoleDelete(c *call) error {
	name := c.r.PathValue("name")
	d, err := p.Admin.Roles().Delete(c.r.Context(), c.Workspace, p.adminOf(c), name)
	if err != nil {
		return roleError(p.Portal, err, name)
	}
	status := "deleted"
	if d.Reset {
		status = "reset"
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": status, "name": d.Name})
	return nil
}
