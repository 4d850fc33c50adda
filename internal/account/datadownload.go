package account

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// MyData is everything Gatehouse holds about a member (GDPR arts. 15 and 20: access
// and portability), as the "Download my data" JSON document. It carries metadata
// only: never a password hash, TOTP secret, recovery code, passkey public key or
// session token.
type MyData struct {
	Generated  time.Time     `json:"generated_at"`
	Workspace  DataWorkspace `json:"workspace"`
	Profile    DataProfile   `json:"profile"`
	Roles      []string      `json:"roles"`
	Teams      []DataTeam    `json:"teams"`
	Sessions   []DataSession `json:"sessions"`
	Factors    DataFactors   `json:"factors"`
	LastSignIn *DataSignIn   `json:"last_sign_in,omitempty"`
	// PendingEmail is an e-mail change waiting for its link to be opened.
	PendingEmail  *DataEmailChange `json:"pending_email_change,omitempty"`
	Requests      []DataRequest    `json:"privacy_requests"`
	AuditRecords  []DataAudit      `json:"audit_records"`
	AuditTruncate bool             `json:"audit_records_truncated,omitempty"`
}

// DataEmailChange is a pending change of the member's address.
type DataEmailChange struct {
	NewEmail  string    `json:"new_email"`
	Requested time.Time `json:"requested_at"`
	Expires   time.Time `json:"expires_at"`
}

// DataWorkspace names the workspace.
type DataWorkspace struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// DataProfile is the member's account.
type DataProfile struct {
	ID                  string    `json:"id"`
	Email               string    `json:"email"`
	DisplayName         string    `json:"display_name"`
	Status              string    `json:"status"`
	Created             time.Time `json:"created_at"`
	LastLogin           time.Time `json:"last_login_at,omitzero"`
	PasswordSet         bool      `json:"password_set"`
	NoLocationProfiling bool      `json:"objects_to_location_profiling"`
}

// DataTeam is a team the member is in.
type DataTeam struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DataSession is a live session's metadata.
type DataSession struct {
	ID          string    `json:"id"`
	Created     time.Time `json:"created_at"`
	Expires     time.Time `json:"expires_at"`
	LastActive  time.Time `json:"last_active_at"`
	IP          string    `json:"ip"`
	LastIP      string    `json:"last_ip,omitempty"`
	UserAgent   string    `json:"user_agent"`
	AuthMethods []string  `json:"auth_methods"`
}

// DataFactors is the member's second factors, as metadata.
type DataFactors struct {
	TOTP          bool          `json:"totp"`
	TOTPSince     time.Time     `json:"totp_confirmed_at,omitzero"`
	RecoveryCodes int           `json:"recovery_codes_unused"`
	Passkeys      []DataPasskey `json:"passkeys"`
}

// DataPasskey is a passkey's metadata.
type DataPasskey struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Created  time.Time `json:"created_at"`
	LastUsed time.Time `json:"last_used_at,omitzero"`
}

// DataSignIn is the latest sign-in Gatehouse keeps in its sign-in history (the
// earlier ones are in the audit records, action login.*).
type DataSignIn struct {
	At      time.Time `json:"at"`
	IP      string    `json:"ip"`
	Country string    `json:"country,omitempty"`
	City    string    `json:"city,omitempty"`
	Device  string    `json:"device,omitempty"`
}

// DataRequest is one of the member's data-subject requests.
type DataRequest struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Status   string    `json:"status"`
	Created  time.Time `json:"created_at"`
	Deadline time.Time `json:"deadline"`
	Resolved time.Time `json:"resolved_at,omitzero"`
	Reason   string    `json:"reason,omitempty"`
}

// DataAudit is an audit record in which the member acted or that concerns them.
type DataAudit struct {
	Seq        int64             `json:"seq"`
	Time       time.Time         `json:"time"`
	Action     string            `json:"action"`
	Outcome    string            `json:"outcome"`
	ActorID    string            `json:"actor_id"`
	ActorEmail string            `json:"actor_email,omitempty"`
	Target     string            `json:"target,omitempty"`
	IP         string            `json:"ip,omitempty"`
	UserAgent  string            `json:"user_agent,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
}

// maxDataAudit bounds the audit records in a download (per role: actor or target).
const maxDataAudit = 20 * store.MaxAuditSearch

// DownloadData gathers everything Gatehouse holds about the member and records it as
// a fulfilled request of kind access (privacy.data_downloaded). It needs a recent
// re-authentication: the document is a copy of the account's history.
func (s *Service) DownloadData(ctx context.Context, ws store.Workspace, me Self) (MyData, error) {
	if err := s.fresh(me); err != nil {
		return MyData{}, err
	}
	u, err := ws.Users().UserByID(ctx, me.user().ID)
	if err != nil {
		return MyData{}, fmt.Errorf("reading account: %w", err)
	}
	now := s.Clock.Now()
	d := MyData{Generated: now.UTC(), Workspace: DataWorkspace{Slug: ws.Slug, Name: ws.Name}, Roles: u.Roles,
		Profile: DataProfile{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Status: u.Status, Created: u.CreatedAt,
			LastLogin: u.LastLoginAt, PasswordSet: u.PasswordHash != "", NoLocationProfiling: u.NoLocationProfiling}}
	if err := s.dataAccount(ctx, ws, u, now, &d); err != nil {
		return MyData{}, err
	}
	if d.AuditRecords, d.AuditTruncate, err = dataAudit(ctx, ws, u.ID); err != nil {
		return MyData{}, err
	}
	r := s.newRequest(me, store.RequestAccess, store.RequestFulfilled)
	if err := ws.PrivacyRequests().CreatePrivacyRequest(ctx, r); err != nil {
		return MyData{}, fmt.Errorf("recording access request: %w", err)
	}
	return d, s.record(ctx, ws, me, audit.ActionDataDownloaded, map[string]string{"request": r.ID})
}

// dataAccount fills in the teams, sessions, factors, sign-in history and requests.
func (s *Service) dataAccount(ctx context.Context, ws store.Workspace, u store.User, now time.Time, d *MyData) error {
	d.Teams = []DataTeam{}
	for _, id := range u.Teams {
		t, err := ws.Teams().TeamByID(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("reading team: %w", err)
		}
		d.Teams = append(d.Teams, DataTeam{ID: id, Name: t.Name})
	}
	sessions, err := ws.Sessions().ListUserSessions(ctx, u.ID, now)
	if err != nil {
		return fmt.Errorf("listing sessions: %w", err)
	}
	d.Sessions = []DataSession{}
	for _, se := range sessions {
		d.Sessions = append(d.Sessions, DataSession{ID: se.ID, Created: se.CreatedAt, Expires: se.ExpiresAt, LastActive: se.LastActive,
			IP: se.IP, LastIP: se.LastIP, UserAgent: se.UserAgent, AuthMethods: se.AuthMethods})
	}
	if sec, err := ws.TOTP().TOTPByUser(ctx, u.ID); err == nil && !sec.ConfirmedAt.IsZero() {
		d.Factors.TOTP, d.Factors.TOTPSince = true, sec.ConfirmedAt
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading TOTP state: %w", err)
	}
	if d.Factors.RecoveryCodes, err = ws.RecoveryCodes().CountRecoveryCodes(ctx, u.ID); err != nil {
		return fmt.Errorf("counting recovery codes: %w", err)
	}
	pks, err := ws.Passkeys().ListPasskeys(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("listing passkeys: %w", err)
	}
	d.Factors.Passkeys = []DataPasskey{}
	for _, p := range pks {
		d.Factors.Passkeys = append(d.Factors.Passkeys, DataPasskey{ID: p.ID, Name: p.Name, Created: p.CreatedAt, LastUsed: p.LastUsedAt})
	}
	switch c, err := ws.EmailChanges().EmailChangeOf(ctx, u.ID); {
	case err == nil && now.Before(c.ExpiresAt):
		d.PendingEmail = &DataEmailChange{NewEmail: c.NewEmail, Requested: c.CreatedAt, Expires: c.ExpiresAt}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("reading the pending e-mail change: %w", err)
	}
	if e, err := ws.LoginHistory().LastLoginEvent(ctx, u.ID); err == nil {
		d.LastSignIn = &DataSignIn{At: e.At, IP: e.IP, Country: e.Country, City: e.City, Device: e.DeviceLabel}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reading sign-in history: %w", err)
	}
	rs, err := ws.PrivacyRequests().ListPrivacyRequests(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("listing requests: %w", err)
	}
	d.Requests = []DataRequest{}
	for _, r := range rs {
		d.Requests = append(d.Requests, DataRequest{ID: r.ID, Kind: r.Kind, Status: r.Status, Created: r.CreatedAt,
			Deadline: r.Deadline, Resolved: r.ResolvedAt, Reason: r.Reason})
	}
	return nil
}

// dataAudit returns the audit records in which userID acted or that target them,
// newest first, at most maxDataAudit of each (truncated reports a cut).
func dataAudit(ctx context.Context, ws store.Workspace, userID string) ([]DataAudit, bool, error) {
	seen := map[int64]store.AuditRecord{}
	truncated := false
	for _, q := range []store.AuditQuery{{ActorID: userID}, {Target: audit.UserTarget(userID)}} {
		q.Limit = store.MaxAuditSearch
		for n := 0; ; {
			page, err := ws.Audit().SearchAudit(ctx, q)
			if err != nil {
				return nil, false, fmt.Errorf("searching the audit trail: %w", err)
			}
			for _, r := range page {
				seen[r.Seq] = r
			}
			n += len(page)
			if len(page) < q.Limit {
				break
			}
			if n >= maxDataAudit {
				truncated = true
				break
			}
			q.BeforeSeq = page[len(page)-1].Seq
		}
	}
	out := make([]DataAudit, 0, len(seen))
	for _, r := range seen {
		out = append(out, DataAudit{Seq: r.Seq, Time: r.Time, Action: r.Action, Outcome: r.Outcome, ActorID: r.ActorID,
			ActorEmail: r.ActorEmail, Target: r.Target, IP: r.IP, UserAgent: r.UserAgent, Details: r.Details})
	}
	slices.SortFunc(out, func(a, b DataAudit) int { return cmp.Compare(b.Seq, a.Seq) })
	return out, truncated, nil
}
