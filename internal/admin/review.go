package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/clock"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of the permission review (role changes and disabling made from it are
// recorded by SetRole and SetDisabled, as from the member pages).
const (
	ActionReviewExported = "permission_review.exported"
	ActionReviewMailed   = "permission_review.mailed"
)

// Review is the permission review (SPEC §8): who has which access, for owners and
// admins to check, with one-click revocation; and, by ReviewJob, the same report
// mailed to every owner once per period. It runs on the member use cases of Service,
// whose role rules it keeps: only owners act on owners and admins, the last active
// owner stays, changes need a recent re-authentication.
type Review struct {
	Service *Service
}

// ReviewEntry is one member in the review.
type ReviewEntry struct {
	Member
	Teams  []string // team names
	Status string   // active, invited, disabled, restricted
	// Self is the administrator asking; Manageable: they may act on this member.
	Self, Manageable bool
	// Removable lists the roles the one-click buttons offer to take away (none for
	// the viewer themselves, nor the "member" role of a plain member).
	Removable []string
	// MayDisable: the viewer may disable this member (active, manageable, not self).
	MayDisable bool
}

// SecondFactor names the member's second factors: "totp+passkeys", "totp",
// "passkeys" or "none".
func (e ReviewEntry) SecondFactor() string {
	switch f := e.Factors; {
	case f.TOTP && f.Passkeys > 0:
		return "totp+passkeys"
	case f.TOTP:
		return "totp"
	case f.Passkeys > 0:
		return "passkeys"
	}
	return "none"
}

// ReviewReport is the whole review of a workspace.
type ReviewReport struct {
	At      time.Time
	Members []ReviewEntry // by e-mail; deleted members are left out
	// Owners and Admins count the active ones; WithoutSecondFactor the active members
	// with neither an authenticator app nor a passkey.
	Owners, Admins, WithoutSecondFactor int
}

// Report lists every member with display name, e-mail, roles, teams, status, last
// sign-in and second factors (owners and admins only).
func (r Review) Report(ctx context.Context, ws store.Workspace, by Admin) (ReviewReport, error) {
	if !by.IsAdmin() {
		return ReviewReport{}, ErrForbidden
	}
	return r.report(ctx, ws, by)
}

// reviewer is who reads the report that the periodic mail carries.
var reviewer = Admin{Actor: audit.System, Roles: []string{identity.RoleOwner}}

func (r Review) report(ctx context.Context, ws store.Workspace, by Admin) (ReviewReport, error) {
	ms, err := r.Service.Members(ctx, ws, by)
	if err != nil {
		return ReviewReport{}, err
	}
	teams, err := ws.Teams().ListTeams(ctx)
	if err != nil {
		return ReviewReport{}, fmt.Errorf("listing teams: %w", err)
	}
	names := make(map[string]string, len(teams))
	for _, t := range teams {
		names[t.ID] = t.Name
	}
	out := ReviewReport{At: r.Service.Clock.Now(), Members: make([]ReviewEntry, 0, len(ms))}
	for _, m := range ms {
		u := m.User
		if u.Status == store.UserDeleted {
			continue
		}
		e := ReviewEntry{Member: m, Status: memberState(m), Self: u.ID == by.UserID, Manageable: mayManage(by, u)}
		for _, id := range u.Teams {
			if n, ok := names[id]; ok {
				id = n
			}
			e.Teams = append(e.Teams, id)
		}
		if e.Manageable && !e.Self {
			e.MayDisable = u.Status == store.UserActive
			if !slices.Equal(u.Roles, []string{identity.RoleMember}) {
				e.Removable = slices.Clone(u.Roles)
			}
		}
		if u.Status == store.UserActive {
			if slices.Contains(u.Roles, identity.RoleOwner) {
				out.Owners++
			}
			if slices.Contains(u.Roles, identity.RoleAdmin) {
				out.Admins++
			}
			if !m.Factors.Any() {
				out.WithoutSecondFactor++
			}
		}
		out.Members = append(out.Members, e)
	}
	return out, nil
}

// memberState is a member's state in words: their status, or "invited" for an active
// member who has not set a password yet.
func memberState(m Member) string {
	if m.User.Status == store.UserActive && m.Invited {
		return "invited"
	}
	return m.User.Status
}

// Revocation is what a one-click revoke takes away: one role (Role), or all access
// (Disable: no sign-in, every session ends).
type Revocation struct {
	Role    string
	Disable bool
}

// Revoke takes access away from a member, as the member pages would: Disable through
// SetDisabled; a role by giving the member the roles they have without it (SetRole
// when one is left, "member" when none is). The role rules, the last-owner guard, the
// re-authentication rule and the audit records are those of member administration.
func (r Review) Revoke(ctx context.Context, ws store.Workspace, by Admin, t Target, how Revocation) (store.User, error) {
	how.Role = strings.TrimSpace(how.Role)
	switch {
	case how.Disable && how.Role != "", !how.Disable && how.Role == "":
		return store.User{}, &FieldError{Field: "revoke", Msg: "name a role to remove, or disable the member"}
	case how.Disable:
		return r.Service.SetDisabled(ctx, ws, by, t, true)
	}
	u, err := r.Service.target(ctx, ws, by, t)
	if err != nil {
		return store.User{}, err
	}
	if !slices.Contains(u.Roles, how.Role) {
		return store.User{}, &FieldError{Field: "role", Msg: fmt.Sprintf("the member does not have the role %q", how.Role)}
	}
	rest := slices.DeleteFunc(slices.Clone(u.Roles), func(x string) bool { return x == how.Role })
	switch len(rest) {
	case 0:
		if how.Role == identity.RoleMember {
			return store.User{}, &FieldError{Field: "role", Msg: "member is the least role: disable the member to take their access away"}
		}
		return r.Service.SetRole(ctx, ws, by, Target{UserID: u.ID}, identity.RoleMember)
	case 1:
		return r.Service.SetRole(ctx, ws, by, Target{UserID: u.ID}, rest[0])
	}
	// Several roles stay: SetRole gives one, so the remaining set is stored as it is
	// (target checked who may act; the store keeps the last owner).
	if err := ws.Users().SetRoles(ctx, u.ID, rest); err != nil {
		return store.User{}, fmt.Errorf("setting roles: %w", err)
	}
	if r.Service.Sessions != nil {
		r.Service.Sessions.ForgetUser(u.ID)
	}
	old := strings.Join(u.Roles, ",")
	u.Roles = rest
	return u, r.Service.record(ctx, ws, by, ActionRoleChanged, audit.UserTarget(u.ID),
		map[string]string{"email": u.Email, "role": strings.Join(rest, ","), "was": old})
}

// Exported records that the administrator downloaded the review (format "csv") with
// n members in it.
func (r Review) Exported(ctx context.Context, ws store.Workspace, by Admin, format string, n int) error {
	if !by.IsAdmin() {
		return ErrForbidden
	}
	return r.Service.record(ctx, ws, by, ActionReviewExported, "tenant:"+ws.Slug,
		map[string]string{"format": format, "members": strconv.Itoa(n)})
}

// ReviewJobName names the permission review in the store's record of periodic jobs.
const ReviewJobName = "permission_review"

// DefaultReviewPeriod is how often owners get the review: a quarter.
const DefaultReviewPeriod = 90 * 24 * time.Hour

// ReviewPeriodOf returns the period now falls in: its key (its start in UTC, e.g.
// "20261124T000000Z") and its start and end. Periods are counted from the Unix epoch,
// so every instance finds the same key without talking to the others.
func ReviewPeriodOf(now time.Time, period time.Duration) (key string, start, end time.Time) {
	secs := int64(period / time.Second)
	if secs <= 0 {
		secs = int64(DefaultReviewPeriod / time.Second)
	}
	n := now.Unix() / secs
	if now.Unix() < 0 && now.Unix()%secs != 0 {
		n--
	}
	start = time.Unix(n*secs, 0).UTC()
	return start.Format("20060102T150405Z"), start, start.Add(time.Duration(secs) * time.Second)
}

// ReviewJob mails every active owner of every tenant the permission review, once per
// period, whichever instance gets there first and however often instances restart.
//
// Each round, for each tenant whose period is not recorded done (and that is not
// turned off), the instance takes a per-tenant lease (so that instances starting
// together do not both compose), looks again, then enqueues one message per owner with
// the id "review/<tenant>/<period>/<owner>" (a second enqueue of a queued message is a
// duplicate, not a second mail) and records the period done. Only a crash between a
// message's delivery and the record — or a failing store in that gap — sends an owner
// the same review twice.
type ReviewJob struct {
	Store  store.Store
	Review Review
	// Outbox queues the mail (durable); Kick wakes the worker (nil: none in-process).
	Outbox notify.Outbox
	Kick   func()
	// Templates render the mail; nil: notify.DefaultTemplates().
	Templates *notify.Templates
	Period    time.Duration // default DefaultReviewPeriod
	Interval  time.Duration // how often to look; default 1 hour
	Holder    string        // this instance's name for the leases
	// PortalURL is the portal's public address for a tenant ("https://host/auth"), for
	// the link to the review page; nil or "": the mail names the page instead.
	PortalURL func(store.Tenant) string
	// Off tells whether a tenant does not want the review mailed; nil: all do.
	Off func(ctx context.Context, ws store.Workspace) (bool, error)
	// MaxListed caps the members a mail lists (the page has them all); default 500.
	MaxListed int
	Clock     clock.Clock
	Logger    *zap.Logger
}

// reviewLease is how long an instance has a tenant's review to itself.
const reviewLease = 10 * time.Minute

func (j *ReviewJob) period() time.Duration {
	if j.Period <= 0 {
		return DefaultReviewPeriod
	}
	return j.Period
}

// Once runs one round over every tenant and returns how many messages it queued.
// A tenant's failure does not stop the others; the errors are returned together and
// the tenant is tried again next round.
func (j *ReviewJob) Once(ctx context.Context) (int, error) {
	now := j.Clock.Now()
	key, _, end := ReviewPeriodOf(now, j.period())
	tenants, err := j.Store.Tenants().ListTenants(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing tenants: %w", err)
	}
	sent := 0
	var errs []error
	for _, t := range tenants {
		n, err := j.tenant(ctx, store.Workspace{Tenant: t, TenantHandle: j.Store.Tenant(t.ID)}, key, now, end)
		sent += n
		if err != nil {
			errs = append(errs, fmt.Errorf("permission review of tenant %s: %w", t.Slug, err))
		}
	}
	return sent, errors.Join(errs...)
}

func (j *ReviewJob) tenant(ctx context.Context, ws store.Workspace, key string, now, next time.Time) (int, error) {
	if done, err := ws.Periods().PeriodDone(ctx, ReviewJobName, key); err != nil || done {
		return 0, err
	}
	if j.Off != nil {
		if off, err := j.Off(ctx, ws); err != nil || off {
			return 0, err
		}
	}
	ok, err := j.Store.Maintenance().AcquireLease(ctx, ReviewJobName+"/"+ws.ID, j.Holder, reviewLease, now)
	if err != nil || !ok {
		return 0, err
	}
	// Another instance may have finished between the first look and the lease.
	if done, err := ws.Periods().PeriodDone(ctx, ReviewJobName, key); err != nil || done {
		return 0, err
	}
	rep, err := j.Review.report(ctx, ws, reviewer)
	if err != nil {
		return 0, err
	}
	var owners []store.User
	for _, e := range rep.Members {
		if u := e.User; u.Status == store.UserActive && !e.Invited && slices.Contains(u.Roles, identity.RoleOwner) {
			owners = append(owners, u)
		}
	}
	if len(owners) == 0 {
		return 0, nil // nobody to tell yet (a workspace before its setup): look again next round
	}
	data := j.mailData(ws, rep, now, next)
	tpl := j.Templates
	if tpl == nil {
		tpl = notify.DefaultTemplates()
	}
	queued := 0
	for _, o := range owners {
		data.OwnerEmail = o.Email
		subject, text, html, err := tpl.Render(notify.KindPermissionReview, data)
		if err != nil {
			return queued, err
		}
		err = j.Outbox.Enqueue(ctx, notify.Message{ID: "review/" + ws.ID + "/" + key + "/" + o.ID, TenantID: ws.ID, To: o.Email,
			Subject: subject, Text: text, HTML: html, CreatedAt: now, NextAttempt: now})
		switch {
		case errors.Is(err, notify.ErrDuplicateMessage): // queued by an earlier, unfinished round
		case err != nil:
			return queued, fmt.Errorf("queueing the review for %s: %w", o.Email, err)
		default:
			queued++
		}
	}
	if j.Kick != nil && queued > 0 {
		j.Kick()
	}
	marked, err := ws.Periods().MarkPeriodDone(ctx, ReviewJobName, key, now)
	if err != nil || !marked {
		return queued, err
	}
	rec := audit.Event(ActionReviewMailed, audit.Success, audit.System, audit.Origin{})
	rec.Target = "tenant:" + ws.Slug
	rec.Details = map[string]string{"period": key, "owners": strconv.Itoa(len(owners)), "members": strconv.Itoa(len(rep.Members))}
	return queued, j.Review.Service.Audit.Record(ctx, ws, rec)
}

// mailData turns the report into the mail's data (OwnerEmail is set per recipient).
func (j *ReviewJob) mailData(ws store.Workspace, rep ReviewReport, now, next time.Time) notify.PermissionReview {
	d := notify.PermissionReview{TenantName: ws.Name, At: now, Next: next, Total: len(rep.Members),
		Owners: rep.Owners, Admins: rep.Admins, WithoutSecondFactor: rep.WithoutSecondFactor}
	if j.PortalURL != nil {
		if base := j.PortalURL(ws.Tenant); base != "" {
			d.ReviewURL = strings.TrimSuffix(base, "/") + "/admin/team/audit"
		}
	}
	limit := j.MaxListed
	if limit <= 0 {
		limit = 500
	}
	for i, e := range rep.Members {
		if i == limit {
			d.More = len(rep.Members) - limit
			break
		}
		d.Members = append(d.Members, notify.ReviewMember{Name: e.User.DisplayName, Email: e.User.Email, Roles: e.User.Roles,
			Teams: e.Teams, Status: e.Status, LastSignIn: e.User.LastLoginAt, TOTP: e.Factors.TOTP, Passkeys: e.Factors.Passkeys})
	}
	return d
}

// Run looks at once and then every Interval until ctx ends (failures are logged; the
// next round tries again).
func (j *ReviewJob) Run(ctx context.Context) {
	log := j.Logger
	if log == nil {
		log = zap.NewNop()
	}
	every := j.Interval
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := j.Once(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("mailing the permission review", zap.Error(err))
		}
		if n > 0 {
			log.Info("permission review mailed", zap.Int("messages", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
