package notify

import "time"

// Message kinds of data-subject requests (issue 12 §3).
const (
	// KindEmailChangeConfirm sends the new address of an e-mail change the link that
	// confirms it. Data: EmailChangeConfirm.
	KindEmailChangeConfirm = "email_change_confirm"
	// KindEmailChangeRequested tells the current address that a change to another
	// was asked for. Data: EmailChangeRequested.
	KindEmailChangeRequested = "email_change_requested"
	// KindRequestReminder reminds a workspace's owners and admins of an open
	// data-subject request near its deadline. Data: RequestReminder.
	KindRequestReminder = "request_reminder"
)

// EmailChangeConfirm is the data of a KindEmailChangeConfirm message.
type EmailChangeConfirm struct {
	TenantName string
	// OldEmail is the address the account signs in with now; NewEmail the one the
	// member asked for (the recipient).
	OldEmail, NewEmail string
	// ConfirmURL is the one-time link to the page that confirms the change.
	ConfirmURL string
	ExpiresAt  time.Time
}

// EmailChangeRequested is the data of a KindEmailChangeRequested message.
type EmailChangeRequested struct {
	TenantName string
	// OldEmail is the recipient; NewEmail the address asked for.
	OldEmail, NewEmail string
	At                 time.Time
	IP                 string
	ExpiresAt          time.Time // when the confirmation link stops working
	// SecurityURL is the member's security page ("" when the portal's public address
	// is not known).
	SecurityURL string
}

// RequestReminder is the data of a KindRequestReminder message. The member's name
// and address are the member's own words: the templates print them through oneline
// and never as links.
type RequestReminder struct {
	TenantName     string
	RecipientEmail string
	// Kind is the request's kind ("erasure", "restriction", …); MemberEmail and
	// MemberName name who asked (both empty for a member no longer in the workspace).
	Kind                    string
	MemberEmail, MemberName string
	CreatedAt, Deadline     time.Time
	// DaysLeft counts the days to the deadline, a started day counting as one (0:
	// the deadline has passed).
	DaysLeft int
	// RequestsURL is the Requests page ("" when the portal's public address is not
	// known: the mail names the page instead).
	RequestsURL string
}

var (
	sampleEmailChangeConfirm = EmailChangeConfirm{TenantName: "Example Clinic", OldEmail: "ada@example.com",
		NewEmail: "ada.lovelace@example.org", ConfirmURL: "https://auth.example.com/auth/settings/email/confirm?token=Zr4vN8cWq1",
		ExpiresAt: sampleTime.Add(24 * time.Hour)}
	sampleEmailChangeRequested = EmailChangeRequested{TenantName: "Example Clinic", OldEmail: "ada@example.com",
		NewEmail: "ada.lovelace@example.org", At: sampleTime, IP: "203.0.113.7", ExpiresAt: sampleTime.Add(24 * time.Hour),
		SecurityURL: "https://auth.example.com/auth/settings/security"}
	sampleRequestReminder = RequestReminder{TenantName: "Example Clinic", RecipientEmail: "grace@example.com",
		Kind: "erasure", MemberEmail: "linus@example.com", MemberName: "Linus", CreatedAt: sampleTime.Add(-23 * 24 * time.Hour),
		Deadline: sampleTime.Add(7 * 24 * time.Hour), DaysLeft: 7, RequestsURL: "https://auth.example.com/auth/admin/requests"}
)
