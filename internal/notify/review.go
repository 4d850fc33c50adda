package notify

import (
	"strings"
	"time"
)

// KindPermissionReview sends a tenant's owners the periodic permission review: every
// member with roles, last sign-in and second factor. Data: PermissionReview.
const KindPermissionReview = "permission_review"

// PermissionReview is the data of a KindPermissionReview message. Names, e-mail
// addresses, team and role names are chosen by members and administrators: the
// templates print them through oneline and never as links.
type PermissionReview struct {
	TenantName string
	OwnerEmail string // the recipient
	// At is when the report was made; Next is when the next one is due.
	At, Next time.Time
	// Members lists the members (at most the sender's cap); More counts those left out.
	Members []ReviewMember
	More    int
	// Total, Owners, Admins and WithoutSecondFactor sum up the whole workspace.
	Total, Owners, Admins, WithoutSecondFactor int
	// ReviewURL is the review page, where access is revoked in one click ("" when the
	// portal's public address is not configured).
	ReviewURL string
}

// ReviewMember is one member in a PermissionReview.
type ReviewMember struct {
	Name, Email string
	Roles       []string
	Teams       []string
	Status      string    // active, invited, disabled, restricted
	LastSignIn  time.Time // zero: never
	TOTP        bool
	Passkeys    int
}

// RoleList writes the roles as "owner, admin".
func (m ReviewMember) RoleList() string { return strings.Join(m.Roles, ", ") }

// TeamList writes the teams as "Billing, Front desk" ("" for none).
func (m ReviewMember) TeamList() string { return strings.Join(m.Teams, ", ") }

// SecondFactor says which second factors the member has: "authenticator app",
// "2 passkeys", "authenticator app + 1 passkey", or "none".
func (m ReviewMember) SecondFactor() string {
	var parts []string
	if m.TOTP {
		parts = append(parts, "authenticator app")
	}
	if m.Passkeys > 0 {
		parts = append(parts, plural(m.Passkeys, "passkey"))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

var samplePermissionReview = PermissionReview{
	TenantName: "Example Clinic",
	OwnerEmail: "ada@example.com",
	At:         sampleTime,
	Next:       sampleTime.Add(90 * 24 * time.Hour),
	Members: []ReviewMember{
		{Name: "Ada Lovelace", Email: "ada@example.com", Roles: []string{"owner"}, Status: "active", LastSignIn: sampleTime, Passkeys: 2},
		{Email: "grace@example.com", Roles: []string{"admin", "manager"}, Teams: []string{"Front desk"}, Status: "active", TOTP: true},
		{Name: "Linus", Email: "linus@example.com", Roles: []string{"member"}, Status: "disabled"},
	},
	More:  1,
	Total: 4, Owners: 1, Admins: 1, WithoutSecondFactor: 2,
	ReviewURL: "https://auth.example.com/auth/admin/team/audit",
}
