package admin

import (
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/policy"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The items of a tenant export, one type per kind. Each is built field by field from
// what the store returned, so that nothing secret can slip into an export by being
// added to a store type: a new field is exported only when it is added here. The
// JSON key of a field is also its CSV column; times are RFC 3339 in UTC, "" for never.

// exportItems gives the item type of each kind (the CSV header comes from it).
var exportItems = map[string]any{
	KindWorkspace: workspaceItem{}, KindSettings: settingsItem{}, KindRoles: roleItem{}, KindTeams: teamItem{},
	KindTeamMembers: teamMemberItem{}, KindMembers: memberItem{}, KindSessions: sessionItem{},
	KindFactors: factorItem{}, KindPasskeys: passkeyItem{}, KindAudit: auditItem{},
}

// singleKinds are the kinds that are one object (not a list) in the JSON document.
var singleKinds = map[string]bool{KindWorkspace: true, KindSettings: true}

type workspaceItem struct {
	ID        string   `json:"id"`
	Slug      string   `json:"slug"`
	Name      string   `json:"name"`
	Hosts     []string `json:"hosts"`
	CreatedAt string   `json:"created_at"`
}

func workspaceItemOf(t store.Tenant) workspaceItem {
	return workspaceItem{ID: t.ID, Slug: t.Slug, Name: t.Name, Hosts: list(t.Hosts), CreatedAt: timeString(t.CreatedAt)}
}

type settingsItem struct {
	Require2FA               bool   `json:"require_2fa"`
	Require2FASince          string `json:"require_2fa_since"`
	GracePeriod              string `json:"grace_period"` // a Go duration ("168h0m0s"); "" for the default
	RequirePasskeysForAdmins bool   `json:"require_passkeys_for_admins"`
	AnomalyAction            string `json:"anomaly_action"`
	LockoutThreshold         int    `json:"lockout_threshold"` // 0: the gateway's
	LockoutDuration          string `json:"lockout_duration"`
	LockoutMax               string `json:"lockout_max"`
	PermissionReviewOff      bool   `json:"permission_review_off"`
	UpdatedAt                string `json:"updated_at"`
	UpdatedBy                string `json:"updated_by"`
}

func settingsItemOf(s store.SecuritySettings) settingsItem {
	return settingsItem{Require2FA: s.Require2FA, Require2FASince: timeString(s.Require2FASince), GracePeriod: durationString(s.GracePeriod),
		RequirePasskeysForAdmins: s.RequirePasskeysForAdmins, AnomalyAction: s.AnomalyAction, LockoutThreshold: s.LockoutThreshold,
		LockoutDuration: durationString(s.LockoutDuration), LockoutMax: durationString(s.LockoutMax),
		PermissionReviewOff: s.PermissionReviewOff, UpdatedAt: timeString(s.UpdatedAt), UpdatedBy: s.UpdatedBy}
}

type roleItem struct {
	Name        string   `json:"name"`
	Kind        string   `json:"kind"` // "builtin_override" (a built-in role the tenant changed) or "custom"
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
	UpdatedAt   string   `json:"updated_at"`
}

func roleItemOf(r store.Role) roleItem {
	kind := "custom"
	if _, builtin := policy.BuiltinRoles().Get(r.Name); builtin {
		kind = "builtin_override"
	}
	return roleItem{Name: r.Name, Kind: kind, Description: r.Description, Permissions: list(r.Permissions), UpdatedAt: timeString(r.UpdatedAt)}
}

type teamItem struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
}

type teamMemberItem struct {
	TeamID   string `json:"team_id"`
	TeamName string `json:"team_name"`
	UserID   string `json:"user_id"`
	Email    string `json:"email"`
}

type memberItem struct {
	ID                  string   `json:"id"`
	Email               string   `json:"email"`
	DisplayName         string   `json:"display_name"`
	Status              string   `json:"status"`
	Roles               []string `json:"roles"`
	Teams               []string `json:"teams"` // team names
	HasPassword         bool     `json:"has_password"`
	CreatedAt           string   `json:"created_at"`
	LastLoginAt         string   `json:"last_login_at"`
	NoLocationProfiling bool     `json:"no_location_profiling"`
}

func memberItemOf(u store.User, teams map[string]string) memberItem {
	names := make([]string, 0, len(u.Teams))
	for _, id := range u.Teams {
		if n, ok := teams[id]; ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return memberItem{ID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Status: u.Status, Roles: list(u.Roles), Teams: names,
		HasPassword: u.PasswordHash != "", CreatedAt: timeString(u.CreatedAt), LastLoginAt: timeString(u.LastLoginAt),
		NoLocationProfiling: u.NoLocationProfiling}
}

type sessionItem struct {
	ID           string   `json:"id"` // the public id (the sessions page shows it), not the token
	UserID       string   `json:"user_id"`
	Email        string   `json:"email"`
	UserAgent    string   `json:"user_agent"`
	IP           string   `json:"ip"`
	LastIP       string   `json:"last_ip"`
	AuthMethods  []string `json:"auth_methods"`
	CreatedAt    string   `json:"created_at"`
	LastActiveAt string   `json:"last_active_at"`
	ExpiresAt    string   `json:"expires_at"`
	Pending      bool     `json:"pending"` // a second factor was outstanding
}

func sessionItemOf(s store.Session, email string) sessionItem {
	return sessionItem{ID: s.ID, UserID: s.UserID, Email: email, UserAgent: s.UserAgent, IP: s.IP, LastIP: s.LastIP,
		AuthMethods: list(s.AuthMethods), CreatedAt: timeString(s.CreatedAt), LastActiveAt: timeString(s.LastActive),
		ExpiresAt: timeString(s.ExpiresAt), Pending: s.Pending}
}

type factorItem struct {
	UserID            string `json:"user_id"`
	Email             string `json:"email"`
	TOTPEnrolled      bool   `json:"totp_enrolled"`
	TOTPEnrolledAt    string `json:"totp_enrolled_at"`
	RecoveryCodesLeft int    `json:"recovery_codes_left"`
	Passkeys          int    `json:"passkeys"`
}

type passkeyItem struct {
	ID             string   `json:"id"`
	UserID         string   `json:"user_id"`
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	CreatedAt      string   `json:"created_at"`
	LastUsedAt     string   `json:"last_used_at"`
	BackupEligible bool     `json:"backup_eligible"`
	BackupState    bool     `json:"backup_state"`
	Transports     []string `json:"transports"`
}

func passkeyItemOf(p store.Passkey, email string) passkeyItem {
	return passkeyItem{ID: p.ID, UserID: p.UserID, Email: email, Name: p.Name, CreatedAt: timeString(p.CreatedAt),
		LastUsedAt: timeString(p.LastUsedAt), BackupEligible: p.BackupEligible, BackupState: p.BackupState, Transports: list(p.Transports)}
}

// auditItem is an audit record with everything the chain needs to be checked again
// (hashes in hex); erased personal fields are empty, with pii_erased set.
type auditItem struct {
	Seq        int64             `json:"seq"`
	Time       string            `json:"time"`
	ActorID    string            `json:"actor_id"`
	ActorEmail string            `json:"actor_email"`
	Action     string            `json:"action"`
	Outcome    string            `json:"outcome"`
	Target     string            `json:"target"`
	IP         string            `json:"ip"`
	UserAgent  string            `json:"user_agent"`
	SessionID  string            `json:"session_id"`
	RequestID  string            `json:"request_id"`
	Details    map[string]string `json:"details"`
	Version    int               `json:"version"`
	PIIErased  bool              `json:"pii_erased"`
	PrevHash   string            `json:"prev_hash"`
	Hash       string            `json:"hash"`
}

func auditItemOf(r store.AuditRecord) auditItem {
	details := r.Details
	if details == nil {
		details = map[string]string{}
	}
	return auditItem{Seq: r.Seq, Time: timeString(r.Time), ActorID: r.ActorID, ActorEmail: r.ActorEmail, Action: r.Action,
		Outcome: r.Outcome, Target: r.Target, IP: r.IP, UserAgent: r.UserAgent, SessionID: r.SessionID, RequestID: r.RequestID,
		Details: details, Version: max(r.Version, 1), PIIErased: r.PIIErased, PrevHash: hex.EncodeToString(r.PrevHash), Hash: hex.EncodeToString(r.Hash)}
}

// timeString is t in RFC 3339 UTC (with its fraction), "" for the zero time.
func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// durationString is d as Go writes it, "" for 0 (the default).
func durationString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// list is a copy of s, never nil (JSON [] rather than null).
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// joinList is how a list is one CSV cell: its values separated by "; " (the
// team_members file lists team memberships one per row, for names that hold one).
func joinList(s []string) string { return strings.Join(s, "; ") }
