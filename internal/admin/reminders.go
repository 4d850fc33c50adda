package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// When the administrators are reminded of an open data-subject request: at 7 days
// left to its deadline, and again at 2.
const (
	ReminderFirst  = 7 * 24 * time.Hour
	ReminderSecond = 2 * 24 * time.Hour
)

// RequestReminders is the background job that mails a workspace's active owners and
// admins about each open data-subject request when ReminderFirst is left to its
// deadline and again when ReminderSecond is, through the outbox, with a link to the
// Requests page.
//
// Each reminder of a request goes out at most once, ever: it is claimed in the store
// (PrivacyRequestStore.ClaimReminder, a conditional update that one caller wins)
// before its messages are queued, so instances running at once, or restarting, never
// send it twice. A claim whose messages could not be queued is released for the next
// round; a crash between the claim and the queueing loses that reminder (the
// Requests page still shows the deadline). A request first seen with 2 days or less
// left gets only the second reminder. A lease keeps the instances from all scanning
// at once.
type RequestReminders struct {
	Store   store.Store
	Service *Service // its Clock is used
	Leases  Leaser
	// Outbox queues the mail (durable); Kick wakes the worker (nil: none in-process).
	Outbox notify.Outbox
	Kick   func()
	// Templates render the mail; nil: notify.DefaultTemplates().
	Templates *notify.Templates
	// PortalURL is the portal's public address for a tenant ("https://host/auth"), for
	// the link to the Requests page; nil or "": the mail names the page instead.
	PortalURL func(store.Tenant) string
	Holder    string        // this instance's name for the lease
	Interval  time.Duration // how often it looks; default an hour
	Logger    *zap.Logger
}

// requestReminderLease names the job's lease.
const requestReminderLease = "privacy-request-reminders"

// reminderReader is who reads the requests for the job.
var reminderReader = Admin{Actor: audit.System, Roles: []string{identity.RoleOwner}}

func (j *RequestReminders) interval() time.Duration {
	if j.Interval <= 0 {
		return time.Hour
	}
	return j.Interval
}

// dueReminder is the reminder a request is due for at now ("" for none).
func dueReminder(r store.PrivacyRequest, now time.Time) string {
	if r.Status != store.RequestOpen {
		return ""
	}
	switch left := r.Deadline.Sub(now); {
	case left <= ReminderSecond:
		if r.Reminded2d.IsZero() {
			return store.Reminder2Days
		}
	case left <= ReminderFirst:
		if r.Reminded7d.IsZero() {
			return store.Reminder7Days
		}
	}
	return ""
}

// Once sends, when this instance gets the lease, every reminder due in every
// workspace; ran reports whether it had the lease, queued counts the messages. A
// failure in one workspace does not stop the others.
func (j *RequestReminders) Once(ctx context.Context) (ran bool, queued int, err error) {
	now := j.Service.Clock.Now()
	ttl := j.interval() - j.interval()/10
	if ok, err := j.Leases.AcquireLease(ctx, requestReminderLease, j.Holder, ttl, now); err != nil || !ok {
		return false, 0, err
	}
	tenants, err := j.Store.Tenants().ListTenants(ctx)
	if err != nil {
		return true, 0, fmt.Errorf("listing tenants: %w", err)
	}
	var errs []error
	for _, tn := range tenants {
		n, err := j.tenant(ctx, store.Workspace{Tenant: tn, TenantHandle: j.Store.Tenant(tn.ID)}, now)
		queued += n
		if err != nil {
			errs = append(errs, fmt.Errorf("request reminders of tenant %s: %w", tn.Slug, err))
		}
	}
	if j.Kick != nil && queued > 0 {
		j.Kick()
	}
	return true, queued, errors.Join(errs...)
}

func (j *RequestReminders) tenant(ctx context.Context, ws store.Workspace, now time.Time) (int, error) {
	list, err := Requests{Service: j.Service}.List(ctx, ws, reminderReader)
	if err != nil {
		return 0, err
	}
	var due []Request
	for _, r := range list {
		if dueReminder(r.PrivacyRequest, now) != "" {
			due = append(due, r)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	admins, err := reminderRecipients(ctx, ws)
	if err != nil || len(admins) == 0 {
		return 0, err // nobody to tell yet: the reminders wait, unclaimed
	}
	queued := 0
	for _, r := range due {
		n, err := j.remind(ctx, ws, r, dueReminder(r.PrivacyRequest, now), admins, now)
		queued += n
		if err != nil {
			return queued, err
		}
	}
	return queued, nil
}

// reminderRecipients are the workspace's active owners and admins who have set up
// their account (an invitee has not).
func reminderRecipients(ctx context.Context, ws store.Workspace) ([]store.User, error) {
	users, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing members: %w", err)
	}
	var out []store.User
	for _, u := range users {
		if u.Status == store.UserActive && u.PasswordHash != "" &&
			(slices.Contains(u.Roles, identity.RoleOwner) || slices.Contains(u.Roles, identity.RoleAdmin)) {
			out = append(out, u)
		}
	}
	return out, nil
}

// remind claims the reminder and queues one message per recipient; when queueing
// fails it releases the claim, so that the next round tries again.
func (j *RequestReminders) remind(ctx context.Context, ws store.Workspace, r Request, reminder string, to []store.User, now time.Time) (int, error) {
	claimed, err := ws.PrivacyRequests().ClaimReminder(ctx, r.ID, reminder, now)
	if err != nil || !claimed {
		return 0, err // another instance, or an earlier round, sent it
	}
	data := notify.RequestReminder{TenantName: ws.Name, Kind: r.Kind, MemberEmail: r.Email, MemberName: r.Name,
		CreatedAt: r.CreatedAt, Deadline: r.Deadline, DaysLeft: r.DaysLeft}
	if j.PortalURL != nil {
		if base := j.PortalURL(ws.Tenant); base != "" {
			data.RequestsURL = strings.TrimSuffix(base, "/") + "/admin/requests"
		}
	}
	tpl := j.Templates
	if tpl == nil {
		tpl = notify.DefaultTemplates()
	}
	queued := 0
	for _, u := range to {
		data.RecipientEmail = u.Email
		subject, text, html, err := tpl.Render(notify.KindRequestReminder, data)
		if err == nil {
			err = j.Outbox.Enqueue(ctx, notify.Message{ID: "request-reminder/" + ws.ID + "/" + r.ID + "/" + reminder + "/" + u.ID,
				TenantID: ws.ID, To: u.Email, Subject: subject, Text: text, HTML: html, CreatedAt: now, NextAttempt: now})
		}
		switch {
		case errors.Is(err, notify.ErrDuplicateMessage): // queued by this claim's earlier, released try
		case err != nil:
			if rerr := ws.PrivacyRequests().ReleaseReminder(context.WithoutCancel(ctx), r.ID, reminder); rerr != nil {
				err = errors.Join(err, fmt.Errorf("releasing the claim: %w", rerr))
			}
			return queued, fmt.Errorf("queueing the %s reminder of request %s: %w", reminder, r.ID, err)
		default:
			queued++
		}
	}
	return queued, nil
}

// Run looks at once and then every Interval until ctx ends (failures are logged; the
// next round tries again).
func (j *RequestReminders) Run(ctx context.Context) {
	log := j.Logger
	if log == nil {
		log = zap.NewNop()
	}
	t := time.NewTicker(j.interval())
	defer t.Stop()
	for {
		switch ran, n, err := j.Once(ctx); {
		case err != nil && ctx.Err() == nil:
			log.Warn("reminding admins of data-subject requests", zap.Error(err))
		case ran && n > 0:
			log.Info("reminded admins of data-subject requests", zap.Int("messages", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
