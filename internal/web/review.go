package web

import (
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/csvsafe"
)

// reviewPages is the permission review (admin.Review): who has which access, with
// one-click revocation, as a page, a CSV download and JSON.
type reviewPages struct{ *Portal }

func (p reviewPages) review() admin.Review { return admin.Review{Service: p.Admin} }

// reviewPage: GET /admin/team/audit.
func (p reviewPages) reviewPage(c *call) error {
	return p.renderReview(c, http.StatusOK, "", "")
}

func (p reviewPages) renderReview(c *call, status int, notice, errMsg string) error {
	rep, err := p.review().Report(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	p.render(c, status, "review", pageInfo{Title: "Permission review", Nav: "review", Wide: true, Notice: notice, Error: errMsg}, rep)
	return nil
}

// revokeForm: POST /admin/team/audit/{id}/revoke with role=<role> (take that role
// away) or disable=1; the page comes back saying what happened.
func (p reviewPages) revokeForm(c *call) error {
	f := c.r.PostForm
	how := admin.Revocation{Role: f.Get("role"), Disable: f.Get("disable") != ""}
	u, err := p.review().Revoke(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")}, how)
	if err != nil {
		if errors.Is(err, authn.ErrReauthRequired) {
			return err // fail sends the browser to confirm the password, then back here
		}
		e := useCaseError(err)
		if e.status != http.StatusBadRequest && e.status != http.StatusConflict && e.status != http.StatusNotFound {
			return err
		}
		return p.renderReview(c, e.status, "", e.msg)
	}
	msg := u.Email + " is disabled: they cannot sign in, and every session of theirs has ended."
	if !how.Disable {
		msg = "Removed the " + how.Role + " role from " + u.Email + "; their roles now: " + strings.Join(u.Roles, ", ") + "."
	}
	return p.renderReview(c, http.StatusOK, msg+" The member's page undoes it.", "")
}

// reviewColumns is the CSV's header row.
var reviewColumns = []string{"name", "email", "roles", "teams", "status", "last_sign_in", "second_factor", "passkeys", "locked"}

// reviewCSV: GET /admin/team/audit.csv, a download of the review (audited as an
// export). Every cell a spreadsheet could take for a formula is defused.
func (p reviewPages) reviewCSV(c *call) error {
	if crossSite(c.r) {
		return errCrossSite() // a link on another site does not export the member list
	}
	by := p.adminOf(c)
	rep, err := p.review().Report(c.r.Context(), c.Workspace, by)
	if err != nil {
		return err
	}
	if err := p.review().Exported(c.r.Context(), c.Workspace, by, "csv", len(rep.Members)); err != nil {
		return err
	}
	h := c.w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="permission-review-`+fileSafe(c.Workspace.Slug)+"-"+rep.At.UTC().Format("2006-01-02")+`.csv"`)
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	w := csv.NewWriter(c.w)
	_ = w.Write(reviewColumns)
	for _, e := range rep.Members {
		last := ""
		if !e.User.LastLoginAt.IsZero() {
			last = e.User.LastLoginAt.UTC().Format(time.RFC3339)
		}
		row := []string{e.User.DisplayName, e.User.Email, strings.Join(e.User.Roles, "; "), strings.Join(e.Teams, "; "), e.Status, last,
			e.SecondFactor(), strconv.Itoa(e.Factors.Passkeys), strconv.FormatBool(e.Locked > 0)}
		_ = w.Write(csvsafe.Row(row))
	}
	w.Flush()
	return nil
}

// fileSafe keeps letters, digits, - and _ of s, for a download's file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return -1
	}, s)
}

// apiReview: GET /api/v1/admin/team/audit → the review as JSON.
func (p reviewPages) apiReview(c *call) error {
	rep, err := p.review().Report(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	members := make([]map[string]any, len(rep.Members))
	for i, e := range rep.Members {
		m := memberJSON(e.Member)
		m["status"] = e.Status
		m["teams"] = nonNil(e.Teams)
		m["second_factor"].(map[string]any)["state"] = e.SecondFactor()
		m["manageable"] = e.Manageable
		m["removable_roles"] = nonNil(e.Removable)
		m["may_disable"] = e.MayDisable
		members[i] = m
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"generated_at": rep.At.UTC().Format(time.RFC3339), "members": members,
		"owners": rep.Owners, "admins": rep.Admins, "without_second_factor": rep.WithoutSecondFactor})
	return nil
}

// apiRevoke: POST /api/v1/admin/team/audit/{id}/revoke {"role": "admin"} or
// {"disable": true} → the member as the members API shows them.
func (p reviewPages) apiRevoke(c *call) error {
	var body struct {
		Role    string `json:"role"`
		Disable bool   `json:"disable"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	u, err := p.review().Revoke(c.r.Context(), c.Workspace, p.adminOf(c), admin.Target{UserID: c.r.PathValue("id")},
		admin.Revocation{Role: body.Role, Disable: body.Disable})
	if err != nil {
		return err
	}
	memberPages(p).writeMember(c, u)
	return nil
}
