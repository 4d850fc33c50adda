package admin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv/testdb"
)

func newExportJobs(t *testing.T, f *fixture) *ExportJobs {
	t.Helper()
	j := &ExportJobs{Export: TenantExport{f.svc}, Dir: t.TempDir(), Failed: func(id string, err error) { t.Errorf("export %s failed: %v", id, err) }}
	t.Cleanup(func() { j.Close() })
	return j
}

// waitReady polls the job until it leaves queued and running.
func waitReady(t *testing.T, j *ExportJobs, ws store.Workspace, by Admin, id string) ExportJob {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		job, err := j.Status(ws, by, id)
		if err != nil {
			t.Fatal(err)
		}
		if job.State != ExportQueued && job.State != ExportRunning {
			return job
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the export did not finish")
	return ExportJob{}
}

func dirEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestExportJobsDownloadOnce: an owner's background export becomes ready, is
// downloaded once by that owner only (another admin, another tenant and a second
// download find nothing), and its file is deleted on download; it is audited with the
// owner as actor.
func TestExportJobsDownloadOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sec := seedTenant(t, f)
	_, otherAdmin := f.user(t, "adm@acme.test", identity.RoleAdmin)
	j := newExportJobs(t, f)

	job, err := j.Start(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "json", WithAudit: true})
	if err != nil || job.State != ExportQueued || job.ID == "" {
		t.Fatalf("start: %+v %v", job, err)
	}
	job = waitReady(t, j, f.ws, sec.owner, job.ID)
	if job.State != ExportReady || job.Counts[KindMembers] != 3 || !job.Expires.Equal(job.Finished.Add(DefaultExportLinkTTL)) {
		t.Fatalf("ready: %+v", job)
	}
	if dirEntries(t, j.Dir) != 1 {
		t.Fatalf("%d files in the export directory", dirEntries(t, j.Dir))
	}
	other := testdb.Workspace(t, f.st, "other")
	if _, _, err := j.Download(f.ws, otherAdmin, job.ID); !errors.Is(err, ErrNoSuchExport) {
		t.Errorf("another admin's download: %v", err)
	}
	if _, err := j.Status(other, sec.owner, job.ID); !errors.Is(err, ErrNoSuchExport) {
		t.Errorf("the job seen from another tenant: %v", err)
	}
	rc, _, err := j.Download(f.ws, sec.owner, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	d := parseExport(t, b)
	if d.Tenant != "acme" || d.Counts[KindMembers] != 3 || len(d.Lists[KindAudit]) == 0 {
		t.Errorf("the downloaded export: %+v", d.Counts)
	}
	if dirEntries(t, j.Dir) != 0 {
		t.Error("the file is still there after the download")
	}
	if _, _, err := j.Download(f.ws, sec.owner, job.ID); !errors.Is(err, ErrNoSuchExport) {
		t.Errorf("a second download: %v", err)
	}
	if job, _ := j.Status(f.ws, sec.owner, job.ID); job.State != ExportDownloaded {
		t.Errorf("state after the download: %s", job.State)
	}
	r := f.lastRecord(t)
	if r.Action != ActionTenantExported || r.ActorID != sec.owner.UserID || r.IP != sec.owner.Origin.IP || r.Details["with_audit"] != "true" {
		t.Errorf("the export's record: %+v", r)
	}
}

// TestExportJobsLinkExpires: a ready export not fetched within the link's time is
// deleted and cannot be downloaded.
func TestExportJobsLinkExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sec := seedTenant(t, f)
	j := newExportJobs(t, f)
	job, err := j.Start(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "csv"})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, j, f.ws, sec.owner, job.ID)
	f.clk.Advance(DefaultExportLinkTTL)
	if job, _ := j.Status(f.ws, sec.owner, job.ID); job.State != ExportExpired {
		t.Errorf("state after %v: %s", DefaultExportLinkTTL, job.State)
	}
	if _, _, err := j.Download(f.ws, sec.owner, job.ID); !errors.Is(err, ErrNoSuchExport) {
		t.Errorf("an expired download: %v", err)
	}
	if dirEntries(t, j.Dir) != 0 {
		t.Error("the expired export's file is still there")
	}
}

// TestExportJobsRefuse: members, admins without a recent proof of identity and unknown
// formats are refused before anything is queued.
func TestExportJobsRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, asMember := f.user(t, "mem@acme.test", identity.RoleMember)
	_, asAdmin := f.user(t, "adm@acme.test", identity.RoleAdmin)
	j := newExportJobs(t, f)
	if _, err := j.Start(t.Context(), f.ws, asMember, TenantExportOptions{Format: "json"}); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member: %v", err)
	}
	var fe *FieldError
	if _, err := j.Start(t.Context(), f.ws, asAdmin, TenantExportOptions{Format: "pdf"}); !errors.As(err, &fe) {
		t.Errorf("format pdf: %v", err)
	}
	f.clk.Advance(time.Hour)
	if _, err := j.Start(t.Context(), f.ws, asAdmin, TenantExportOptions{Format: "json"}); !errors.Is(err, authn.ErrReauthRequired) {
		t.Errorf("a stale admin: %v", err)
	}
	if n := len(j.jobs); n != 0 {
		t.Errorf("%d jobs queued", n)
	}
}

// TestExportJobsQueueWhenSlotsAreTaken: with every slot busy an export waits, queued,
// and runs once a slot frees.
func TestExportJobsQueueWhenSlotsAreTaken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, owner := f.user(t, "owner@acme.test", identity.RoleOwner)
	j := newExportJobs(t, f)
	j.Slots = 1
	if err := j.init(); err != nil {
		t.Fatal(err)
	}
	j.slots <- struct{}{} // another export holds the only slot
	job, err := j.Start(t.Context(), f.ws, owner, TenantExportOptions{Format: "json"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if job, _ := j.Status(f.ws, owner, job.ID); job.State != ExportQueued {
		t.Fatalf("with no free slot: %s", job.State)
	}
	<-j.slots
	if job := waitReady(t, j, f.ws, owner, job.ID); job.State != ExportReady {
		t.Fatalf("after the slot freed: %s", job.State)
	}
}

// TestExportJobsPasswordProtected: with a password the file waiting for download is
// the encrypted format (no member's e-mail in it) and opens with that password only.
func TestExportJobsPasswordProtected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sec := seedTenant(t, f)
	j := newExportJobs(t, f)
	job, err := j.Start(t.Context(), f.ws, sec.owner, TenantExportOptions{Format: "json", Password: []byte("a long passphrase")})
	if err != nil || !job.Encrypted {
		t.Fatalf("start: %+v %v", job, err)
	}
	job = waitReady(t, j, f.ws, sec.owner, job.ID)
	rc, _, err := j.Download(f.ws, sec.owner, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte("GHEXPENC")) || bytes.Contains(raw, []byte("@acme.test")) {
		t.Fatal("the downloaded export is not encrypted")
	}
	if r, err := exportcrypt.NewReader(bytes.NewReader(raw), []byte("another passphrase")); err == nil {
		if _, err = io.ReadAll(r); !errors.Is(err, exportcrypt.ErrWrongPassword) {
			t.Fatalf("another password: %v", err)
		}
	} else if !errors.Is(err, exportcrypt.ErrWrongPassword) {
		t.Fatalf("another password: %v", err)
	}
	r, err := exportcrypt.NewReader(bytes.NewReader(raw), []byte("a long passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if d := parseExport(t, plain); d.Tenant != "acme" || d.Counts[KindMembers] != 2 {
		t.Errorf("the decrypted export: %+v", d.Counts)
	}
}
