package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Data-subject requests (issue 12 §3): on the security page a member downloads their
// data, restricts processing or asks for erasure; the admins' Requests page lists
// every request with its deadline and fulfils or refuses it. Each has a JSON twin.

// privacyRoutes registers the pages and API calls of data-subject requests.
func (p *Portal) privacyRoutes(api ratelimit.Class) {
	acc, req := privacyPages{p}, requestPages{p}
	p.route("POST /settings/privacy/download", api, p.browserForm(signedIn, acc.downloadForm))
	p.route("POST /settings/privacy/restrict", api, p.browserForm(signedIn, acc.restrictForm))
	p.route("POST /settings/privacy/erase", api, p.browserForm(signedIn, acc.eraseForm))
	p.route("POST /settings/privacy/name", api, p.browserForm(signedIn, acc.nameForm))
	p.route("PUT /api/v1/me/name", api, p.apiJSON(signedIn, acc.apiName))
	p.route("GET /api/v1/me/data", api, p.apiJSON(signedIn, acc.apiData))
	p.route("GET /api/v1/me/requests", api, p.apiJSON(signedIn, acc.apiMyRequests))
	p.route("POST /api/v1/me/restrict", api, p.apiJSON(signedIn, acc.apiRestrict))
	p.route("POST /api/v1/me/erasure", api, p.apiJSON(signedIn, acc.apiErasure))

	p.route("GET /admin/requests", api, p.page(adminOnly, req.requestsPage))
	p.route("POST /admin/requests/{id}/fulfil", api, p.browserForm(adminOnly, req.fulfilForm))
	p.route("POST /admin/requests/{id}/refuse", api, p.browserForm(adminOnly, req.refuseForm))
	p.route("GET /api/v1/admin/requests", api, p.apiJSON(adminOnly, req.apiRequests))
	p.route("POST /api/v1/admin/requests/{id}/fulfil", api, p.apiJSON(adminOnly, req.apiResolve(true)))
	p.route("POST /api/v1/admin/requests/{id}/refuse", api, p.apiJSON(adminOnly, req.apiResolve(false)))
}

// privacyPages are the member's data-subject requests, on the security page.
type privacyPages struct{ *Portal }

// settingsError shows what the member caused on the security page itself.
func (p privacyPages) settingsError(c *call, err error) error {
	return accountPages(p).settingsError(c, err)
}

// renderSecurity shows the security page.
func (p privacyPages) renderSecurity(c *call, status int, notice, errMsg string) error {
	return accountPages(p).renderSecurity(c, status, notice, errMsg)
}

// requestJSON is a request as the API shows it.
func requestJSON(r store.PrivacyRequest) map[string]any {
	out := map[string]any{"id": r.ID, "user_id": r.UserID, "kind": r.Kind, "status": r.Status,
		"created_at": r.CreatedAt.UTC().Format(time.RFC3339), "deadline": r.Deadline.UTC().Format(time.RFC3339)}
	if !r.ResolvedAt.IsZero() {
		out["resolved_at"], out["resolved_by"] = r.ResolvedAt.UTC().Format(time.RFC3339), r.ResolvedBy
	}
	if r.Reason != "" {
		out["reason"] = r.Reason
	}
	return out
}

// downloadForm sends the member's data as a JSON file.
func (p privacyPages) downloadForm(c *call) error {
	d, err := p.Account.DownloadData(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return p.settingsError(c, err)
	}
	c.w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-my-data.json"`)
	c.w.Header().Set("Cache-Control", "no-store")
	writeJSON(c.w, http.StatusOK, d)
	return nil
}

// restrictForm restricts the account; the session has ended, so a message page says
// what happened.
func (p privacyPages) restrictForm(c *call) error {
	if _, err := p.Account.Restrict(c.r.Context(), c.Workspace, p.self(c)); err != nil {
		return p.settingsError(c, err)
	}
	c.me = nil // signed out now: the message page shows no navigation
	p.message(c, http.StatusOK, "Processing restricted", messagePage{
		Message: "Your account is restricted: you are signed out everywhere and cannot sign in, and your data is kept " +
			"unchanged. An administrator of the workspace lifts the restriction when its reason is settled."})
	return nil
}

// eraseForm asks for erasure.
func (p privacyPages) eraseForm(c *call) error {
	r, err := p.Account.RequestErasure(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return p.settingsError(c, err)
	}
	return p.renderSecurity(c, http.StatusOK, "Your request to be erased is recorded. The workspace's administrators answer it by "+
		r.Deadline.UTC().Format("2 January 2006")+".", "")
}

// nameForm corrects the member's name (rectification) and shows the page again.
func (p privacyPages) nameForm(c *call) error {
	name := c.r.PostForm.Get("name")
	if _, err := p.Account.Rectify(c.r.Context(), c.Workspace, p.self(c), name); err != nil {
		return p.settingsError(c, err)
	}
	c.me.User.DisplayName = strings.TrimSpace(name) // this request's copy; the cache was dropped
	return p.renderSecurity(c, http.StatusOK, "Your name is corrected.", "")
}

// apiName: PUT /api/v1/me/name {"name"} → 200 the fulfilled rectification request.
func (p privacyPages) apiName(c *call) error {
	var body struct {
		Name string `json:"name"`
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	r, err := p.Account.Rectify(c.r.Context(), c.Workspace, p.self(c), body.Name)
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, requestJSON(r))
	return nil
}

// apiData: GET /api/v1/me/data → everything about the member (account.MyData).
func (p privacyPages) apiData(c *call) error {
	d, err := p.Account.DownloadData(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	c.w.Header().Set("Cache-Control", "no-store")
	writeJSON(c.w, http.StatusOK, d)
	return nil
}

// apiMyRequests: GET /api/v1/me/requests → {"requests": [...]}.
func (p privacyPages) apiMyRequests(c *call) error {
	rs, err := p.Account.MyRequests(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(rs))
	for i, r := range rs {
		out[i] = requestJSON(r)
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"requests": out})
	return nil
}

// apiRestrict: POST /api/v1/me/restrict → 200 the restriction request (the session
// has ended).
func (p privacyPages) apiRestrict(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	r, err := p.Account.Restrict(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, requestJSON(r))
	return nil
}

// apiErasure: POST /api/v1/me/erasure → 201 the open erasure request.
func (p privacyPages) apiErasure(c *call) error {
	var body struct{}
	if err := c.decode(&body, false); err != nil {
		return err
	}
	r, err := p.Account.RequestErasure(c.r.Context(), c.Workspace, p.self(c))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusCreated, requestJSON(r))
	return nil
}

// requestPages is the admins' Requests page.
type requestPages struct{ *Portal }

func (p requestPages) requests() admin.Requests { return admin.Requests{Service: p.Admin} }

func (p requestPages) requestsPage(c *call) error {
	return p.renderRequests(c, http.StatusOK, "", "")
}

func (p requestPages) renderRequests(c *call, status int, notice, errMsg string) error {
	list, err := p.requests().List(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	p.render(c, status, "requests", pageInfo{Title: "Data-subject requests", Nav: "requests", Wide: true, Notice: notice, Error: errMsg}, list)
	return nil
}

// requestError shows a refusal without a reason, or a request resolved meanwhile,
// on the page itself.
func (p requestPages) requestError(c *call, err error) error {
	e := useCaseError(err)
	if e.status != http.StatusBadRequest && e.status != http.StatusNotFound && e.status != http.StatusConflict {
		return err
	}
	return p.renderRequests(c, e.status, "", e.msg)
}

func (p requestPages) fulfilForm(c *call) error {
	r, err := p.requests().Fulfil(c.r.Context(), c.Workspace, p.adminOf(c), c.r.PathValue("id"), c.r.PostFormValue("reason"))
	if err != nil {
		return p.requestError(c, err)
	}
	return p.renderRequests(c, http.StatusOK, "The "+r.Kind+" request is fulfilled.", "")
}

func (p requestPages) refuseForm(c *call) error {
	r, err := p.requests().Refuse(c.r.Context(), c.Workspace, p.adminOf(c), c.r.PathValue("id"), c.r.PostFormValue("reason"))
	if err != nil {
		return p.requestError(c, err)
	}
	return p.renderRequests(c, http.StatusOK, "The "+r.Kind+" request is refused.", "")
}

// apiRequests: GET /api/v1/admin/requests → {"requests": [...]} with each member's
// e-mail (absent once erased), the days left and whether it is overdue.
func (p requestPages) apiRequests(c *call) error {
	list, err := p.requests().List(c.r.Context(), c.Workspace, p.adminOf(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, r := range list {
		m := requestJSON(r.PrivacyRequest)
		if !r.Erased {
			m["email"] = r.Email
		}
		m["erased"], m["days_left"], m["overdue"] = r.Erased, r.DaysLeft, r.Overdue
		out[i] = m
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"requests": out})
	return nil
}

// apiResolve: POST /api/v1/admin/requests/{id}/fulfil|refuse {"reason"} → 200 the
// request.
func (p requestPages) apiResolve(fulfil bool) func(c *call) error {
	return func(c *call) error {
		var body struct {
			Reason string `json:"reason"`
		}
		if err := c.decode(&body, false); err != nil {
			return err
		}
		resolve := p.requests().Refuse
		if fulfil {
			resolve = p.requests().Fulfil
		}
		r, err := resolve(c.r.Context(), c.Workspace, p.adminOf(c), c.r.PathValue("id"), body.Reason)
		if err != nil {
			return err
		}
		writeJSON(c.w, http.StatusOK, requestJSON(r))
		return nil
	}
}
