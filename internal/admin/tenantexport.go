package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// ActionTenantExported records an export of a workspace's data (format, with_audit and
// how many items of each kind it held).
const ActionTenantExported = "tenant.exported"

// Export kinds, in the order an export writes them. JSON and CSV carry the same kinds
// with the same fields (the JSON keys are the CSV column names).
const (
	KindWorkspace   = "workspace"    // the tenant: id, slug, name, hosts
	KindSettings    = "settings"     // the sign-in policy
	KindRoles       = "roles"        // the tenant's own roles: built-in ones it changed, and custom ones
	KindTeams       = "teams"        // teams
	KindTeamMembers = "team_members" // who is in which team
	KindMembers     = "members"      // users (never the password hash)
	KindSessions    = "sessions"     // live sessions, metadata only (never a token or its hash)
	KindFactors     = "factors"      // per member: TOTP enrolled and when, recovery codes left, passkeys
	KindPasskeys    = "passkeys"     // passkey metadata (never the credential's key)
	KindAudit       = "audit"        // the audit trail (only with WithAudit)
)

// ExportKinds lists every kind an export can hold, in order; KindAudit comes last and
// only with WithAudit.
var ExportKinds = []string{KindWorkspace, KindSettings, KindRoles, KindTeams, KindTeamMembers, KindMembers,
	KindSessions, KindFactors, KindPasskeys, KindAudit}

// Export formats.
const (
	ExportJSON = "json" // one JSON document, streamed
	ExportCSV  = "csv"  // a zip of one RFC 4180 CSV file per kind
)

// ExportFormatVersion is the "version" of the JSON document (and of the CSV columns).
const ExportFormatVersion = 1

// TenantExportOptions is what to export.
type TenantExportOptions struct {
	Format    string // ExportJSON or ExportCSV
	WithAudit bool   // include the audit trail
	// Password, when set, encrypts the background export's file (exportcrypt: the
	// README's format); the CLI wraps its own output the same way.
	Password []byte
}

// TenantExportSummary is what an export wrote.
type TenantExportSummary struct {
	Format    string
	WithAudit bool
	Counts    map[string]int // items per kind (workspace and settings count 1)
}

// TenantExport exports a workspace's data for its owners and admins: the data
// portability promise (GDPR art. 20) and a way out of the product.
type TenantExport struct {
	// Service checks who asks and records the export.
	Service *Service
}

// Export writes every kind of ws's data to w in the format of opt, reading it a page
// (the audit trail) or a member at a time, so that memory does not grow with the size
// of the audit trail; items are written as they are read. Secrets never leave: no
// password hash, session or token hash, TOTP secret, recovery code hash or passkey
// key is read into an exported item. The export is recorded as ActionTenantExported,
// also when writing failed part way (outcome failure, with the counts written).
//
// Only owners and admins export, with a recent proof of identity (the CLI is exempt).
// The audit trail is exported up to its newest record when the export starts (the
// export's own record is not in it).
func (x TenantExport) Export(ctx context.Context, ws store.Workspace, by Admin, opt TenantExportOptions, w io.Writer) (TenantExportSummary, error) {
	opt, err := x.check(by, opt)
	if err != nil {
		return TenantExportSummary{}, err
	}
	return x.write(ctx, ws, by, opt, w)
}

// check refuses who may not export (ErrForbidden, authn.ErrReauthRequired) and an
// unknown format (a *FieldError), and returns opt with its format normalised.
func (x TenantExport) check(by Admin, opt TenantExportOptions) (TenantExportOptions, error) {
	s := x.Service
	if !by.IsAdmin() {
		return opt, ErrForbidden
	}
	if s == nil || s.Audit == nil {
		return opt, errors.New("tenant export: no audit writer to record it")
	}
	if err := s.fresh(by); err != nil {
		return opt, err
	}
	opt.Format = strings.ToLower(strings.TrimSpace(opt.Format))
	if opt.Format != ExportJSON && opt.Format != ExportCSV {
		return opt, &FieldError{Field: "format", Msg: "must be json or csv"}
	}
	return opt, nil
}

// write is Export after check: it writes and records the export.
func (x TenantExport) write(ctx context.Context, ws store.Workspace, by Admin, opt TenantExportOptions, w io.Writer) (TenantExportSummary, error) {
	var sink exportSink = newJSONSink(w)
	if opt.Format == ExportCSV {
		sink = newCSVSink(w)
	}
	sum := TenantExportSummary{Format: opt.Format, WithAudit: opt.WithAudit, Counts: map[string]int{}}
	err := (&tenantExporter{s: x.Service, ws: ws, opt: opt, sink: sink, counts: sum.Counts}).run(ctx)
	if rerr := x.record(ctx, ws, by, sum, err); rerr != nil {
		return sum, errors.Join(err, rerr)
	}
	return sum, err
}

// record writes the export's own audit record.
func (x TenantExport) record(ctx context.Context, ws store.Workspace, by Admin, sum TenantExportSummary, failed error) error {
	outcome := audit.Success
	if failed != nil {
		outcome = audit.Failure
	}
	rec := audit.Event(ActionTenantExported, outcome, by.Actor, by.Origin)
	rec.Target = "tenant:" + ws.Slug
	rec.Details = map[string]string{"format": sum.Format, "with_audit": strconv.FormatBool(sum.WithAudit)}
	for kind, n := range sum.Counts {
		rec.Details[kind] = strconv.Itoa(n)
	}
	return x.Service.Audit.Record(context.WithoutCancel(ctx), ws, rec)
}

// tenantExporter is one export under way: it reads the store kind by kind and hands
// each item to the sink.
type tenantExporter struct {
	s      *Service
	ws     store.Workspace
	opt    TenantExportOptions
	sink   exportSink
	counts map[string]int

	users  []store.User      // the members, read once (every per-member kind walks them)
	emails map[string]string // member id → e-mail
	teams  map[string]string // team id → name
	auditN int64             // the newest audit record when the export started
}

func (e *tenantExporter) run(ctx context.Context) error {
	steps := []struct {
		kind string
		fn   func(context.Context) error
	}{
		{KindWorkspace, e.workspace}, {KindSettings, e.settings}, {KindRoles, e.roles}, {KindTeams, e.teamList},
		{KindTeamMembers, e.teamMembers}, {KindMembers, e.members}, {KindSessions, e.sessions},
		{KindFactors, e.factors}, {KindPasskeys, e.passkeys},
	}
	if e.opt.WithAudit {
		steps = append(steps, struct {
			kind string
			fn   func(context.Context) error
		}{KindAudit, e.auditTrail})
		// Fix the range first: records written while the export runs (its own
		// included) are not in it.
		head, err := e.ws.Audit().SearchAudit(ctx, store.AuditQuery{Limit: 1})
		if err != nil {
			return fmt.Errorf("reading the newest audit record: %w", err)
		}
		if len(head) > 0 {
			e.auditN = head[0].Seq
		}
	}
	users, err := e.ws.Users().ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("listing members: %w", err)
	}
	e.users, e.emails = users, make(map[string]string, len(users))
	for _, u := range users {
		e.emails[u.ID] = u.Email
	}
	if err := e.sink.begin(e.s.Clock.Now(), e.ws); err != nil {
		return fmt.Errorf("writing the export's opening: %w", err)
	}
	for _, st := range steps {
		e.counts[st.kind] = 0
		if err := e.sink.open(st.kind); err != nil {
			return fmt.Errorf("starting %s: %w", st.kind, err)
		}
		if err := st.fn(ctx); err != nil {
			return fmt.Errorf("exporting %s: %w", st.kind, err)
		}
		if err := e.sink.close(st.kind); err != nil {
			return fmt.Errorf("finishing %s: %w", st.kind, err)
		}
	}
	if err := e.sink.finish(e.counts); err != nil {
		return fmt.Errorf("writing the export's closing: %w", err)
	}
	return nil
}

// put hands one item of kind to the sink and counts it.
func (e *tenantExporter) put(kind string, item any) error {
	if err := e.sink.item(kind, item); err != nil {
		return err
	}
	e.counts[kind]++
	return nil
}

func (e *tenantExporter) workspace(context.Context) error {
	return e.put(KindWorkspace, workspaceItemOf(e.ws.Tenant))
}

func (e *tenantExporter) settings(ctx context.Context) error {
	ss, err := e.ws.Settings().SecuritySettings(ctx)
	if err != nil {
		return fmt.Errorf("reading the security settings: %w", err)
	}
	return e.put(KindSettings, settingsItemOf(ss))
}

func (e *tenantExporter) roles(ctx context.Context) error {
	roles, err := e.ws.Roles().ListRoles(ctx)
	if err != nil {
		return fmt.Errorf("listing roles: %w", err)
	}
	for _, r := range roles {
		if err := e.put(KindRoles, roleItemOf(r)); err != nil {
			return err
		}
	}
	return nil
}

func (e *tenantExporter) teamList(ctx context.Context) error {
	teams, err := e.ws.Teams().ListTeams(ctx)
	if err != nil {
		return fmt.Errorf("listing teams: %w", err)
	}
	e.teams = make(map[string]string, len(teams))
	for _, t := range teams {
		e.teams[t.ID] = t.Name
		if err := e.put(KindTeams, teamItem{ID: t.ID, Name: t.Name, CreatedAt: timeString(t.CreatedAt)}); err != nil {
			return err
		}
	}
	return nil
}

func (e *tenantExporter) teamMembers(ctx context.Context) error {
	teams, err := e.ws.Teams().ListTeams(ctx)
	if err != nil {
		return fmt.Errorf("listing teams: %w", err)
	}
	for _, t := range teams {
		ids, err := e.ws.Teams().TeamMembers(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("listing the members of team %s: %w", t.ID, err)
		}
		for _, id := range ids {
			if err := e.put(KindTeamMembers, teamMemberItem{TeamID: t.ID, TeamName: t.Name, UserID: id, Email: e.emails[id]}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *tenantExporter) members(context.Context) error {
	for _, u := range e.users {
		if err := e.put(KindMembers, memberItemOf(u, e.teams)); err != nil {
			return err
		}
	}
	return nil
}

func (e *tenantExporter) sessions(ctx context.Context) error {
	now := e.s.Clock.Now()
	for _, u := range e.users {
		ss, err := e.ws.Sessions().ListUserSessions(ctx, u.ID, now)
		if err != nil {
			return fmt.Errorf("listing the sessions of %s: %w", u.ID, err)
		}
		for _, s := range ss {
			if err := e.put(KindSessions, sessionItemOf(s, u.Email)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *tenantExporter) factors(ctx context.Context) error {
	for _, u := range e.users {
		f := factorItem{UserID: u.ID, Email: u.Email}
		totp, err := e.ws.TOTP().TOTPByUser(ctx, u.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("reading the authenticator app of %s: %w", u.ID, err)
		case !totp.ConfirmedAt.IsZero(): // a pending enrolment is not a factor
			f.TOTPEnrolled, f.TOTPEnrolledAt = true, timeString(totp.ConfirmedAt)
		}
		if f.RecoveryCodesLeft, err = e.ws.RecoveryCodes().CountRecoveryCodes(ctx, u.ID); err != nil {
			return fmt.Errorf("counting the recovery codes of %s: %w", u.ID, err)
		}
		pks, err := e.ws.Passkeys().ListPasskeys(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("listing the passkeys of %s: %w", u.ID, err)
		}
		f.Passkeys = len(pks)
		if err := e.put(KindFactors, f); err != nil {
			return err
		}
	}
	return nil
}

func (e *tenantExporter) passkeys(ctx context.Context) error {
	for _, u := range e.users {
		pks, err := e.ws.Passkeys().ListPasskeys(ctx, u.ID)
		if err != nil {
			return fmt.Errorf("listing the passkeys of %s: %w", u.ID, err)
		}
		for _, p := range pks {
			if err := e.put(KindPasskeys, passkeyItemOf(p, u.Email)); err != nil {
				return err
			}
		}
	}
	return nil
}

// auditTrail streams the trail in sequence order, ExportPage records at a time, up to
// the newest record when the export started.
func (e *tenantExporter) auditTrail(ctx context.Context) error {
	var after int64
	for after < e.auditN {
		recs, err := e.ws.Audit().ListAudit(ctx, after, ExportPage)
		if err != nil {
			return fmt.Errorf("reading the audit trail after record %d: %w", after, err)
		}
		for _, r := range recs {
			if r.Seq > e.auditN {
				return nil
			}
			if err := e.put(KindAudit, auditItemOf(r)); err != nil {
				return err
			}
		}
		if len(recs) < ExportPage {
			return nil
		}
		after = recs[len(recs)-1].Seq
	}
	return nil
}
