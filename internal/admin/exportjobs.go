package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/exportcrypt"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Export job states.
const (
	ExportQueued     = "queued"     // waiting for a free slot
	ExportRunning    = "running"    // being written
	ExportReady      = "ready"      // waiting to be downloaded, until Expires
	ExportFailed     = "failed"     // broke off (the cause is in the log; the export's record says failure)
	ExportDownloaded = "downloaded" // fetched once: the file is gone
	ExportExpired    = "expired"    // not fetched in time: the file is gone
)

// ErrNoSuchExport: no export with that id for this administrator (another tenant's or
// another administrator's exports are not found either), or it is not ready, or its
// download was used or expired.
var ErrNoSuchExport = errors.New("no such export ready for download")

// Defaults of ExportJobs.
const (
	DefaultExportSlots   = 2
	DefaultExportLinkTTL = 15 * time.Minute
	// exportJobsKept is how long the state of a finished job stays visible.
	exportJobsKept = 24 * time.Hour
)

// ExportJobs runs tenant exports in the background for the portal: an administrator
// starts one, polls its state, and downloads the file once, within LinkTTL of it being
// ready; then (or when the link expires) the file is deleted. At most Slots exports
// run at once; the rest wait in the queue. Jobs live in this process's memory: the
// state and the download are on the instance that runs the export.
type ExportJobs struct {
	Export  TenantExport
	Dir     string        // a private directory (0700) for finished exports; "" makes one under os.TempDir
	Slots   int           // exports at once; default DefaultExportSlots
	LinkTTL time.Duration // how long a ready export waits; default DefaultExportLinkTTL
	// Failed, when set, hears why an export failed (the portal logs it).
	Failed func(jobID string, err error)

	once    sync.Once
	initErr error
	slots   chan struct{}
	ctx     context.Context // cancelled by Close: running exports stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	jobs    map[string]*exportJob
	ownDir  bool
}

// ExportJob is what an administrator sees of an export.
type ExportJob struct {
	ID        string
	State     string
	Format    string
	WithAudit bool
	Encrypted bool // password-protected (exportcrypt)
	Created   time.Time
	Finished  time.Time      // zero until ready or failed
	Expires   time.Time      // when ready: the download link's end
	Counts    map[string]int // when ready
}

type exportJob struct {
	ExportJob
	tenantID, userID string
	path             string // the file, while ready
}

func (j *ExportJobs) init() error {
	j.once.Do(func() {
		if j.Slots <= 0 {
			j.Slots = DefaultExportSlots
		}
		if j.LinkTTL <= 0 {
			j.LinkTTL = DefaultExportLinkTTL
		}
		if j.Dir == "" {
			dir, err := os.MkdirTemp("", "gatehouse-exports-*") // 0700
			if err != nil {
				j.initErr = fmt.Errorf("creating the export directory: %w", err)
				return
			}
			j.Dir, j.ownDir = dir, true
		} else if err := os.MkdirAll(j.Dir, 0o700); err != nil {
			j.initErr = fmt.Errorf("creating the export directory: %w", err)
			return
		}
		j.slots = make(chan struct{}, j.Slots)
		j.ctx, j.cancel = context.WithCancel(context.Background())
		j.jobs = map[string]*exportJob{}
	})
	return j.initErr
}

// Start checks who asks (owners and admins with a recent proof of identity) and the
// options, and queues the export; it returns at once with the job in state queued.
func (j *ExportJobs) Start(ctx context.Context, ws store.Workspace, by Admin, opt TenantExportOptions) (ExportJob, error) {
	opt, err := j.Export.check(by, opt)
	if err != nil {
		return ExportJob{}, err
	}
	if err := j.init(); err != nil {
		return ExportJob{}, err
	}
	now := j.Export.Service.Clock.Now()
	job := &exportJob{ExportJob: ExportJob{ID: secret.NewID(), State: ExportQueued, Format: opt.Format, WithAudit: opt.WithAudit,
		Encrypted: len(opt.Password) > 0, Created: now},
		tenantID: ws.TenantID(), userID: by.UserID}
	j.mu.Lock()
	if j.ctx.Err() != nil {
		j.mu.Unlock()
		return ExportJob{}, errors.New("tenant export: the export jobs are closed")
	}
	j.sweepLocked(now)
	j.jobs[job.ID] = job
	j.wg.Add(1)
	view := job.view()
	j.mu.Unlock()
	go j.run(job, ws, by, opt)
	return view, nil
}

// run waits for a slot and writes the export to a file in Dir.
func (j *ExportJobs) run(job *exportJob, ws store.Workspace, by Admin, opt TenantExportOptions) {
	defer j.wg.Done()
	select {
	case j.slots <- struct{}{}:
		defer func() { <-j.slots }()
	case <-j.ctx.Done():
		j.finish(job, "", nil, j.ctx.Err())
		return
	}
	j.setState(job, ExportRunning)
	f, err := os.CreateTemp(j.Dir, "export-*") // 0600
	if err != nil {
		j.finish(job, "", nil, fmt.Errorf("creating the export file: %w", err))
		return
	}
	var out io.Writer = f
	var enc io.WriteCloser
	if len(opt.Password) > 0 {
		if enc, err = exportcrypt.NewWriter(f, opt.Password); err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			j.finish(job, "", nil, fmt.Errorf("encrypting the export: %w", err))
			return
		}
		out = enc
	}
	sum, err := j.Export.write(j.ctx, ws, by, opt, out)
	if enc != nil {
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		j.finish(job, "", nil, err)
		return
	}
	j.finish(job, f.Name(), sum.Counts, nil)
}

func (j *ExportJobs) setState(job *exportJob, state string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	job.State = state
}

func (j *ExportJobs) finish(job *exportJob, path string, counts map[string]int, err error) {
	now := j.Export.Service.Clock.Now()
	j.mu.Lock()
	job.Finished = now
	if err != nil {
		job.State = ExportFailed
	} else {
		job.State, job.path, job.Counts, job.Expires = ExportReady, path, counts, now.Add(j.LinkTTL)
	}
	j.mu.Unlock()
	if err != nil && j.Failed != nil {
		j.Failed(job.ID, err)
	}
	if err == nil { // an export nobody fetches is deleted when its link expires
		time.AfterFunc(j.LinkTTL, func() {
			j.mu.Lock()
			defer j.mu.Unlock()
			j.sweepLocked(j.Export.Service.Clock.Now())
		})
	}
}

// Status returns the job with id that by started in ws (ErrNoSuchExport otherwise).
func (j *ExportJobs) Status(ws store.Workspace, by Admin, id string) (ExportJob, error) {
	if err := j.init(); err != nil {
		return ExportJob{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweepLocked(j.Export.Service.Clock.Now())
	job, ok := j.jobs[id]
	if !ok || job.tenantID != ws.TenantID() || job.userID != by.UserID {
		return ExportJob{}, ErrNoSuchExport
	}
	return job.view(), nil
}

// List returns the jobs by started in ws, newest first.
func (j *ExportJobs) List(ws store.Workspace, by Admin) ([]ExportJob, error) {
	if err := j.init(); err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweepLocked(j.Export.Service.Clock.Now())
	var out []ExportJob
	for _, job := range j.jobs {
		if job.tenantID == ws.TenantID() && job.userID == by.UserID {
			out = append(out, job.view())
		}
	}
	slices.SortFunc(out, func(a, b ExportJob) int { return cmp.Or(b.Created.Compare(a.Created), strings.Compare(a.ID, b.ID)) })
	return out, nil
}

// Download hands over a ready export once: the file is opened and deleted at once (the
// caller reads it through the open handle and closes it). Only the administrator who
// started it, before it expires, and a second time not at all (ErrNoSuchExport).
func (j *ExportJobs) Download(ws store.Workspace, by Admin, id string) (io.ReadCloser, ExportJob, error) {
	if err := j.init(); err != nil {
		return nil, ExportJob{}, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sweepLocked(j.Export.Service.Clock.Now())
	job, ok := j.jobs[id]
	if !ok || job.tenantID != ws.TenantID() || job.userID != by.UserID || job.State != ExportReady {
		return nil, ExportJob{}, ErrNoSuchExport
	}
	f, err := os.Open(job.path)
	if err != nil {
		return nil, ExportJob{}, fmt.Errorf("opening the export: %w", err)
	}
	_ = os.Remove(job.path)
	job.State, job.path = ExportDownloaded, ""
	return f, job.view(), nil
}

// sweepLocked deletes the files of ready exports whose link expired and forgets jobs
// finished long ago.
func (j *ExportJobs) sweepLocked(now time.Time) {
	for id, job := range j.jobs {
		if job.State == ExportReady && !now.Before(job.Expires) {
			_ = os.Remove(job.path)
			job.State, job.path = ExportExpired, ""
		}
		if !job.Finished.IsZero() && job.State != ExportReady && now.Sub(job.Finished) > exportJobsKept {
			delete(j.jobs, id)
		}
	}
}

// Close stops the running exports, waits for them, and deletes every export file (the
// directory too, when it made it).
func (j *ExportJobs) Close() error {
	if j.init() != nil {
		return nil
	}
	j.cancel()
	j.wg.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, job := range j.jobs {
		if job.path != "" {
			_ = os.Remove(job.path)
			job.State, job.path = ExportExpired, ""
		}
	}
	if j.ownDir {
		return os.RemoveAll(j.Dir)
	}
	return nil
}

func (job *exportJob) view() ExportJob { return job.ExportJob }
