package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authn"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/notify"
	"github.com/gatehouse-dev/gatehouse/internal/session"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Audit actions of member administration.
const (
	ActionUserInvited      = "user.invited"
	ActionRoleChanged      = "user.role_changed"
	ActionUserDisabled     = "user.disabled"
	ActionUserEnabled      = "user.enabled"
	ActionSessionsRevoked  = "session.revoked_by_admin"
	ActionTenantRenamedCLI = "tenant.renamed"
)

// Errors of member administration.
var (
	// ErrLastOwner: the change would leave the workspace without an active owner.
	ErrLastOwner = store.ErrLastOwner
	// ErrSelf: administrators cannot disable themselves.
	ErrSelf = errors.New("not on your own account")
	// ErrAlreadyMember: the address belongs to a member who has set a password.
	ErrAlreadyMember = errors.New("already a member")
	// ErrDeletedMember: the address belongs to a deleted member, reserved for them
	// while they can be restored.
	ErrDeletedMember = errors.New("the address belongs to a deleted member")
	// ErrMemberDisabled: a link for a disabled member would not work; enable them first.
	ErrMemberDisabled = errors.New("the member is disabled")
)

// Member is a member as the members page shows them.
type Member struct {
	User    store.User
	Factors authn.Factors
	Locked  time.Duration // time left on a sign-in lock (0: not locked)
	Invited bool          // invited, no password set yet
}

// Members lists the workspace's members with their 2FA state, passkeys, last sign-in
// and lock state (owners and admins).
func (s *Service) Members(ctx context.Context, ws store.Workspace, by Admin) ([]Member, error) {
	if !by.IsAdmin() {
		return nil, ErrForbidden
	}
	us, err := ws.Users().ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	out := make([]Member, 0, len(us))
	for _, u := range us {
		m, err := s.member(ctx, ws, u)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Service) member(ctx context.Context, ws store.Workspace, u store.User) (Member, error) {
	m := Member{User: u, Invited: u.PasswordHash == ""}
	var err error
	if m.Factors, err = s.MFA.Factors(ctx, ws, u.ID); err != nil {
		return Member{}, err
	}
	if s.Lockout != nil && s.Lockout.KV != nil {
		if m.Locked, err = s.Lockout.Locked(ctx, ws.TenantID(), u.Email); err != nil {
			return Member{}, fmt.Errorf("reading lockout: %w", err)
		}
	}
	return m, nil
}

// MemberDetail is one member with their live sessions.
type MemberDetail struct {
	Member
	Sessions []session.View
	// Manageable: the administrator asking may act on this member (owners on anyone,
	// admins on members and managers).
	Manageable bool
}

// Member returns one member with their sessions.
func (s *Service) Member(ctx context.Context, ws store.Workspace, by Admin, t Target) (MemberDetail, error) {
	if !by.IsAdmin() {
		return MemberDetail{}, ErrForbidden
	}
	u, err := s.find(ctx, ws, t)
	if err != nil {
		return MemberDetail{}, err
	}
	m, err := s.member(ctx, ws, u)
	if err != nil {
		return MemberDetail{}, err
	}
	list, err := ws.Sessions().ListUserSessions(ctx, u.ID, s.Clock.Now())
	if err != nil {
		return MemberDetail{}, fmt.Errorf("listing sessions: %w", err)
	}
	views := session.Describe(list, u, s.Locations, "")
	api, err := ws.RefreshTokens().LiveRefreshSessions(ctx, u.ID, s.Clock.Now())
	if err != nil {
		return MemberDetail{}, fmt.Errorf("listing API access: %w", err)
	}
	session.MarkAPIAccess(views, api)
	return MemberDetail{Member: m, Sessions: views, Manageable: mayManage(by, u)}, nil
}

// mayManage tells whether by may administer u: owners anyone, admins members and
// managers (owners and admins are an owner's business).
func mayManage(by Admin, u store.User) bool {
	return by.IsOwner() || by.IsAdmin() && !authn.IsAdmin(u)
}

// target finds a member by may act on, after checking the role and a recent
// re-authentication.
func (s *Service) target(ctx context.Context, ws store.Workspace, by Admin, t Target) (store.User, error) {
	if !by.IsAdmin() {
		return store.User{}, ErrForbidden
	}
	if err := s.fresh(by); err != nil {
		return store.User{}, err
	}
	u, err := s.find(ctx, ws, t)
	if err != nil {
		return store.User{}, err
	}
	if !mayManage(by, u) {
		return store.User{}, ErrForbidden
	}
	return u, nil
}

// SetRole gives a member one role: a built-in one or one the workspace defined
// (Roles). Only owners make owners and admins or change an owner's or admin's role;
// the last active owner keeps the role (ErrLastOwner). The member's sessions pick up
// the new role on their next request.
func (s *Service) SetRole(ctx context.Context, ws store.Workspace, by Admin, t Target, role string) (store.User, error) {
	role = strings.TrimSpace(role)
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return store.User{}, err
	}
	if err := s.checkAssignable(ctx, ws, "role", []string{role}); err != nil {
		return store.User{}, err
	}
	if err := s.mayGrant(ctx, ws, by, []string{role}); err != nil {
		return store.User{}, err
	}
	old := strings.Join(u.Roles, ",")
	if err := ws.Users().SetRoles(ctx, u.ID, []string{role}); err != nil {
		return store.User{}, fmt.Errorf("setting role: %w", err)
	}
	if s.Sessions != nil {
		s.Sessions.ForgetUser(u.ID)
	}
	u.Roles = []string{role}
	return u, s.record(ctx, ws, by, ActionRoleChanged, audit.UserTarget(u.ID), map[string]string{"email": u.Email, "role": role, "was": old})
}

// SetDisabled disables (no sign-in with any factor; every session ends at once) or
// re-enables a member. Administrators cannot disable themselves, and the last active
// owner stays (ErrLastOwner).
func (s *Service) SetDisabled(ctx context.Context, ws store.Workspace, by Admin, t Target, disabled bool) (store.User, error) {
	if disabled && by.IsAdmin() && (t.UserID != "" && t.UserID == by.UserID || t.UserID == "" && by.Email != "" && strings.EqualFold(strings.TrimSpace(t.Email), by.Email)) {
		return store.User{}, ErrSelf // said before "only owners manage admins", which would puzzle an admin
	}
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return store.User{}, err
	}
	if disabled && u.ID == by.UserID {
		return store.User{}, ErrSelf
	}
	status, action := store.UserActive, ActionUserEnabled
	if disabled {
		status, action = store.UserDisabled, ActionUserDisabled
	}
	if err := ws.Users().SetStatus(ctx, u.ID, status); err != nil {
		return store.User{}, fmt.Errorf("setting status: %w", err)
	}
	details := map[string]string{"email": u.Email}
	if disabled {
		n, err := s.revokeAll(ctx, ws, u.ID)
		if err != nil {
			return store.User{}, err
		}
		details["sessions_ended"] = strconv.Itoa(n)
	}
	u.Status = status
	return u, s.record(ctx, ws, by, action, audit.UserTarget(u.ID), details)
}

func (s *Service) revokeAll(ctx context.Context, ws store.Workspace, userID string) (int, error) {
	if s.Sessions != nil {
		return s.Sessions.RevokeUser(ctx, ws, userID, "")
	}
	n, err := ws.Sessions().RevokeUserSessions(ctx, userID, "", s.Clock.Now())
	if err != nil {
		return 0, fmt.Errorf("revoking sessions: %w", err)
	}
	return n, nil
}

// RevokeSessions signs a member out: of one session (sessionID), or everywhere ("").
// A session id that is not one of the member's live sessions is ErrNoSuchSession.
func (s *Service) RevokeSessions(ctx context.Context, ws store.Workspace, by Admin, t Target, sessionID string) (int, error) {
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return 0, err
	}
	n := 0
	if sessionID == "" {
		if n, err = s.revokeAll(ctx, ws, u.ID); err != nil {
			return 0, err
		}
	} else {
		sess, err := ws.Sessions().SessionByID(ctx, sessionID)
		if errors.Is(err, store.ErrNotFound) || err == nil && (sess.UserID != u.ID || !sess.RevokedAt.IsZero()) {
			return 0, ErrNoSuchSession
		}
		if err != nil {
			return 0, fmt.Errorf("reading session: %w", err)
		}
		if s.Sessions != nil {
			err = s.Sessions.Revoke(ctx, ws, sessionID)
		} else {
			err = ws.Sessions().RevokeSession(ctx, sessionID, s.Clock.Now())
		}
		if err != nil {
			return 0, err
		}
		n = 1
	}
	details := map[string]string{"email": u.Email, "count": strconv.Itoa(n)}
	if sessionID != "" {
		details["session"] = sessionID
	}
	return n, s.record(ctx, ws, by, ActionSessionsRevoked, audit.UserTarget(u.ID), details)
}

// ErrNoSuchSession: not one of the member's live sessions.
var ErrNoSuchSession = errors.New("no such session")

// SendPasswordReset mails a member a reset link (30 minutes, single use) and returns
// it (the CLI prints it for an operator to hand over).
func (s *Service) SendPasswordReset(ctx context.Context, ws store.Workspace, by Admin, t Target) (string, error) {
	u, err := s.target(ctx, ws, by, t)
	if err != nil {
		return "", err
	}
	if u.Status != store.UserActive {
		return "", ErrMemberDisabled
	}
	return s.Links.SendReset(ctx, ws, authn.Client{Origin: by.Origin, PortalURL: by.PortalURL}, u, by.Actor, true)
}

// Invitation is who to invite.
type Invitation struct {
	Email, Name, Role string
	Mail              bool // send the invitation e-mail (the CLI may only print the link)
}

// Invite adds a member without a password and makes a single-use link (7 days) with
// which they set one; it is mailed through the outbox when i.Mail, and returned. Only
// owners invite owners and admins. Inviting again someone who has not accepted yet
// replaces the earlier link and gives the role asked for now (only an administrator
// who may manage the invitee does that); an address whose member has a password is
// ErrAlreadyMember.
func (s *Service) Invite(ctx context.Context, ws store.Workspace, by Admin, i Invitation) (store.User, string, error) {
	if !by.IsAdmin() {
		return store.User{}, "", ErrForbidden
	}
	if err := s.fresh(by); err != nil {
		return store.User{}, "", err
	}
	role := strings.TrimSpace(i.Role)
	if role == "" {
		role = identity.RoleMember
	}
	if err := s.mayGrant(ctx, ws, by, []string{role}); err != nil {
		return store.User{}, "", err
	}
	if by.PortalURL == "" {
		return store.User{}, "", authn.ErrNoPortalURL
	}
	u, err := s.prepareUser(ctx, ws, authn.NewUser{Email: i.Email, DisplayName: i.Name, Roles: []string{role}})
	if err != nil {
		return store.User{}, "", err
	}
	existing, err := ws.Users().UserByEmail(ctx, u.Email)
	switch {
	case err == nil && existing.PasswordHash != "":
		return store.User{}, "", ErrAlreadyMember
	case err == nil:
		// Not accepted yet: a new link replaces the old one, for the role asked for
		// now (the mail and the audit record name it) — if by may manage the invitee
		// as they are (an admin does not re-invite a future owner as a member).
		if !mayManage(by, existing) {
			return store.User{}, "", ErrForbidden
		}
		if existing.Status != store.UserActive {
			return store.User{}, "", ErrMemberDisabled
		}
		if !slices.Equal(existing.Roles, []string{role}) {
			if err := ws.Users().SetRoles(ctx, existing.ID, []string{role}); err != nil {
				return store.User{}, "", fmt.Errorf("setting role: %w", err)
			}
			existing.Roles = []string{role}
		}
		u = existing
	case errors.Is(err, store.ErrNotFound):
		if err := ws.Users().CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
			return store.User{}, "", ErrDeletedMember // the address of a deleted member stays theirs
		} else if err != nil {
			return store.User{}, "", fmt.Errorf("creating user: %w", err)
		}
	default:
		return store.User{}, "", fmt.Errorf("looking up user: %w", err)
	}
	now := s.Clock.Now()
	tok, err := authn.IssueLink(ctx, ws, authn.PurposeInvite, u.ID, authn.InviteLinkLifetime, now)
	if err != nil {
		return store.User{}, "", err
	}
	link := by.PortalURL + "/invite?token=" + tok
	if err := s.record(ctx, ws, by, ActionUserInvited, audit.UserTarget(u.ID),
		map[string]string{"email": u.Email, "role": role, "mailed": strconv.FormatBool(i.Mail)}); err != nil {
		return store.User{}, "", err
	}
	if i.Mail && s.Mail != nil {
		inviter := by.Email
		if by.UserID == audit.CLI.UserID {
			inviter = "the operator"
		}
		if _, err := s.Mail.Notify(ctx, ws.TenantID(), u.Email, notify.KindInvite, notify.Invite{TenantName: ws.Name,
			InviterEmail: inviter, InviteeEmail: u.Email, Role: role, AcceptURL: link, ExpiresAt: now.Add(authn.InviteLinkLifetime)}); err != nil {
			return store.User{}, "", fmt.Errorf("queueing the invitation: %w", err)
		}
	}
	return u, link, nil
}

// RenameTenant changes the workspace's display name (the CLI).
func (s *Service) RenameTenant(ctx context.Context, ws store.Workspace, by Admin, name string) error {
	if !by.IsOwner() {
		return ErrForbidden
	}
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return &FieldError{Field: "name", Msg: "a name of 1 to 100 characters without control characters"}
	}
	if err := ws.Settings().RenameTenant(ctx, name); err != nil {
		return fmt.Errorf("renaming: %w", err)
	}
	return s.record(ctx, ws, by, ActionTenantRenamedCLI, "tenant:"+ws.Slug, map[string]string{"name": name, "was": ws.Name})
}

// mayGrant checks that by may give roles: owners any; admins neither owner nor admin,
// and no role whose permissions go beyond their own (an admin whose role an owner
// narrowed cannot hand out a custom role that has more).
func (s *Service) mayGrant(ctx context.Context, ws store.Workspace, by Admin, roles []string) error {
	if by.IsOwner() {
		return nil
	}
	if slices.Contains(roles, identity.RoleOwner) || slices.Contains(roles, identity.RoleAdmin) {
		return ErrForbidden
	}
	defined, _, err := s.definedRoles(ctx, ws)
	if err != nil {
		return err
	}
	mine := defined.Grants(by.Roles)
	for _, name := range roles {
		r, _ := defined.Get(name)
		for _, p := range r.Permissions {
			if !mine.Covers(p) {
				return ErrForbidden
			}
		}
	}
	return nil
}
