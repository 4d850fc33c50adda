package web

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/session"
)

type sessionsPage struct {
	Sessions []session.View
	Others   int
}

// sessionsPage lists the user's sessions, this device marked, with a way to end each
// and all the others at once.
func (p accountPages) sessionsPage(c *call) error {
	return p.renderSessions(c, http.StatusOK, "")
}

func (p accountPages) renderSessions(c *call, status int, notice string) error {
	list, err := p.Account.ListSessions(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	d := sessionsPage{Sessions: list}
	for _, s := range list {
		if !s.Current {
			d.Others++
		}
	}
	p.render(c, status, "sessions", pageInfo{Title: "Sessions", Nav: "sessions", Notice: notice}, d)
	return nil
}

func (p accountPages) sessionRevokeForm(c *call) error {
	id := c.r.PostFormValue("id")
	if err := p.Account.RevokeSession(c.r.Context(), c.Workspace, p.self(c), id); err != nil {
		return err
	}
	if id == c.me.Session.ID { // signing this device out is signing out
		http.Redirect(c.w, c.r, p.path("/login?signed_out=1"), http.StatusSeeOther)
		return nil
	}
	return p.renderSessions(c, http.StatusOK, "That session is signed out.")
}

func (p accountPages) sessionsRevokeOthersForm(c *call) error {
	n, err := p.Account.RevokeOtherSessions(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	msg := "You are signed out everywhere else."
	if n == 0 {
		msg = "There was no other session to sign out."
	}
	return p.renderSessions(c, http.StatusOK, msg)
}

// sessionJSON is a session as the API shows it.
func sessionJSON(v session.View) map[string]any {
	methods := v.Methods
	if methods == nil {
		methods = []string{}
	}
	return map[string]any{"id": v.ID, "device": v.Device, "ip": v.IP, "location": v.Location,
		"created_at": v.CreatedAt.UTC().Format(time.RFC3339), "last_active": v.LastActive.UTC().Format(time.RFC3339),
		"auth_methods": methods, "current": v.Current, "api_access": v.APIAccess}
}

func sessionsJSON(list []session.View) []map[string]any {
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = sessionJSON(v)
	}
	return out
}

// apiSessions: GET /api/v1/sessions.
func (p accountPages) apiSessions(c *call) error {
	list, err := p.Account.ListSessions(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return unavailable(err)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"sessions": sessionsJSON(list)})
	return nil
}

// apiSessionRevoke: DELETE /api/v1/sessions/{id} → 204.
func (p accountPages) apiSessionRevoke(c *call) error {
	if err := p.Account.RevokeSession(c.r.Context(), c.Workspace, p.self(c), c.r.PathValue("id")); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// apiSessionsRevoke: DELETE /api/v1/sessions?others=true → {"revoked": n}. Without
// others=true it refuses: ending this session too is signing out (POST /api/v1/logout).
func (p accountPages) apiSessionsRevoke(c *call) error {
	if c.r.URL.Query().Get("others") != "true" {
		return errorf(http.StatusBadRequest, "others_required", "Use ?others=true to sign out everywhere else, or /api/v1/logout to sign out here.")
	}
	n, err := p.Account.RevokeOtherSessions(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]int{"revoked": n})
	return nil
}
