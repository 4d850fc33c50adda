package web

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/admin"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
)

// Tenant exports for owners and admins (admin.ExportJobs): started, polled, downloaded
// once. Starting one needs a recent proof of identity, like member administration.

// exportPages are the tenant-export handlers.
type exportPages struct{ *Portal }

// exportJSON is a job as the API shows it; download_url only while it is ready.
func (p exportPages) exportJSON(j admin.ExportJob) map[string]any {
	v := map[string]any{"id": j.ID, "state": j.State, "format": j.Format, "with_audit": j.WithAudit, "encrypted": j.Encrypted,
		"created_at": j.Created.UTC().Format(time.RFC3339), "status_url": p.path("/api/v1/admin/exports/" + j.ID)}
	if !j.Finished.IsZero() {
		v["finished_at"] = j.Finished.UTC().Format(time.RFC3339)
	}
	if j.State == admin.ExportReady {
		v["download_url"] = p.path("/api/v1/admin/exports/" + j.ID + "/download")
		v["expires_at"] = j.Expires.UTC().Format(time.RFC3339)
		v["counts"] = j.Counts
	}
	return v
}

func (p exportPages) jobs() (*admin.ExportJobs, error) {
	if p.Exports == nil {
		return nil, errorf(http.StatusNotFound, "not_found", "Exports are not available here.")
	}
	return p.Exports, nil
}

// apiExportStart: POST /api/v1/admin/exports {"format":"json"|"csv","with_audit":bool}
// → 202 with the job (state queued).
func (p exportPages) apiExportStart(c *call) error {
	var body struct {
		Format    string `json:"format"`
		WithAudit bool   `json:"with_audit"`
		Password  string `json:"password"` // optional: the file is encrypted with it
	}
	if err := c.decode(&body, true); err != nil {
		return err
	}
	jobs, err := p.jobs()
	if err != nil {
		return err
	}
	job, err := jobs.Start(c.r.Context(), c.Workspace, p.adminOf(c), admin.TenantExportOptions{Format: body.Format, WithAudit: body.WithAudit,
		Password: passwordBytes(body.Password)})
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusAccepted, p.exportJSON(job))
	return nil
}

// passwordBytes is an export password as bytes (nil for none).
func passwordBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// apiExport: GET /api/v1/admin/exports/{id} → the job's state.
func (p exportPages) apiExport(c *call) error {
	jobs, err := p.jobs()
	if err != nil {
		return err
	}
	job, err := jobs.Status(c.Workspace, p.adminOf(c), c.r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, p.exportJSON(job))
	return nil
}

// exportsPage: GET /admin/exports, the form and the administrator's exports.
func (p exportPages) exportsPage(c *call) error {
	return p.renderExports(c, http.StatusOK, "", "")
}

func (p exportPages) renderExports(c *call, status int, notice, errMsg string) error {
	jobs, err := p.jobs()
	if err != nil {
		return err
	}
	list, err := jobs.List(c.Workspace, p.adminOf(c))
	if err != nil {
		return unavailable(err)
	}
	p.render(c, status, "exports", pageInfo{Title: "Exports", Nav: "exports", Wide: true, Notice: notice, Error: errMsg}, list)
	return nil
}

// exportStartForm: POST /admin/exports (format, with_audit) starts an export; the
// page then shows it queued (a stale session confirms the password first).
func (p exportPages) exportStartForm(c *call) error {
	jobs, err := p.jobs()
	if err != nil {
		return err
	}
	f := c.r.PostForm
	_, err = jobs.Start(c.r.Context(), c.Workspace, p.adminOf(c), admin.TenantExportOptions{Format: f.Get("format"), WithAudit: f.Get("with_audit") == "on",
		Password: passwordBytes(f.Get("password"))})
	if err != nil {
		if errors.Is(err, authn.ErrReauthRequired) {
			return err
		}
		e := useCaseError(err)
		if e.status != http.StatusBadRequest {
			return err
		}
		return p.renderExports(c, e.status, "", e.msg)
	}
	return p.renderExports(c, http.StatusOK, "The export is being prepared. Refresh this page to see when it is ready; the download works once, for 15 minutes.", "")
}

// exportDownloadPage: GET /admin/exports/{id}/download, the browser's download link
// (a link on another site does not start it).
func (p exportPages) exportDownloadPage(c *call) error {
	if crossSite(c.r) {
		return errCrossSite()
	}
	return p.apiExportDownload(c)
}

// apiExportDownload: GET /api/v1/admin/exports/{id}/download → the file, once (a JSON
// document or a zip); afterwards, and after the link expired, 404.
func (p exportPages) apiExportDownload(c *call) error {
	jobs, err := p.jobs()
	if err != nil {
		return err
	}
	rc, job, err := jobs.Download(c.Workspace, p.adminOf(c), c.r.PathValue("id"))
	if err != nil {
		return err
	}
	defer rc.Close()
	h := c.w.Header()
	name := "gatehouse-export-" + fileSafe(c.Workspace.Slug) + "-" + job.Created.UTC().Format("20060102T150405Z")
	if job.Format == admin.ExportCSV {
		h.Set("Content-Type", "application/zip")
		name += ".zip"
	} else {
		h.Set("Content-Type", "application/json")
		name += ".json"
	}
	if job.Encrypted {
		h.Set("Content-Type", "application/octet-stream")
		name += ".enc"
	}
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.w, rc); err != nil {
		panic(http.ErrAbortHandler) // the download broke off: the client sees it incomplete
	}
	return nil
}
