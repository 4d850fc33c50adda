package store

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Errors every backend returns (wrapped or not; test with errors.Is).
var (
	// ErrNotFound: no such record (in this tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (tenant slug or host, user e-mail, session token).
	ErrConflict = errors.New("conflict")
	// ErrLastOwner: the change would leave the tenant without an active owner.
	ErrLastOwner = errors.New("the tenant's last active owner")
	// ErrInUse: the record is still referred to (a role some user holds).
	ErrInUse = errors.New("in use")
)

// Store is a backend. It is safe for concurrent use.
type Store interface {
	// Tenants manages the tenant registry (the only data not bound to one tenant).
	Tenants() TenantStore
	// Tenant returns a handle bound to one tenant id. It does not check that the
	// tenant exists; queries through a handle of an unknown tenant find nothing.
	Tenant(tenantID string) TenantHandle
	// Maintenance is the housekeeping that spans tenants (leases, purges).
	Maintenance() Maintenance
	// SigningKeys keeps the deployment's token-signing keys (shared by every tenant
	// and every instance).
	SigningKeys() SigningKeyStore
	// AuditKeys keeps the deployment's audit-checkpoint signing keys (Ed25519).
	AuditKeys() AuditKeyStore
	// DataKeys keeps the deployment's sealed data keys (the audit digest key, the
	// refresh-successor key): random or once derived, then fixed across rotations.
	DataKeys() DataKeyStore
	// SealedFields is every value sealed with a master key, across tenants: what a
	// master key rotation re-seals.
	SealedFields() SealedFieldStore
	// Ping checks that the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close() error
}

// TenantHandle is the only way to tenant data. Every statement behind it is scoped to
// TenantID.
type TenantHandle interface {
	TenantID() string
	Users() UserStore
	Sessions() SessionStore
	Audit() AuditStore
	OneTimeTokens() OneTimeTokenStore
	TOTP() TOTPStore
	RecoveryCodes() RecoveryCodeStore
	Passkeys() PasskeyStore
	Settings() SettingsStore
	LoginHistory() LoginHistoryStore
	RefreshTokens() RefreshTokenStore
	Roles() RoleStore
	Teams() TeamStore
	Periods() PeriodStore
	Checkpoints() CheckpointStore
	AuditCuts() AuditCutStore
	PrivacyRequests() PrivacyRequestStore
	EmailChanges() EmailChangeStore
}

// Workspace is a tenant with the handle bound to it: what a use case acts on. The
// tenant's fields (ID, Slug, Name) and the handle's stores are both promoted.
type Workspace struct {
	Tenant
	TenantHandle
}

// Tenant is a workspace.
type Tenant struct {
	ID        string
	Slug      string   // unique, lowercase
	Name      string   // display name
	Hosts     []string // host names that resolve to this tenant (unique across tenants, lowercase)
	CreatedAt time.Time
}

// TenantStore is the tenant registry.
type TenantStore interface {
	// CreateTenant inserts t; ErrConflict if the slug or a host is taken.
	CreateTenant(ctx context.Context, t Tenant) error
	TenantByID(ctx context.Context, id string) (Tenant, error)
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	// TenantByHost finds the tenant that lists host (lowercase, no port).
	TenantByHost(ctx context.Context, host string) (Tenant, error)
	// ListTenants returns all tenants ordered by slug.
	ListTenants(ctx context.Context) ([]Tenant, error)
}

// User statuses.
const (
	UserActive     = "active"
	UserDisabled   = "disabled"   // by an administrator: no sign-in, sessions ended
	UserRestricted = "restricted" // data kept, no sign-in (data-subject restriction)
	// UserDeleted is a status Gatehouse never sets: deleting a member sets
	// User.DeletedAt (soft delete) and keeps the status, so that a restore brings back
	// a disabled member disabled. A row with this status is still treated as no
	// member by the checks that look at statuses (team lists, role use, reviews).
	UserDeleted = "deleted"
)

// DeletedUserRestoreWindow is how long a deleted member can be restored; after it the
// background job purges them for good.
const DeletedUserRestoreWindow = 30 * 24 * time.Hour

// User is an account in one tenant.
type User struct {
	ID           string
	TenantID     string
	Email        string // case-folded; unique per tenant
	DisplayName  string
	PasswordHash string // empty: no password set
	Status       string
	Roles        []string
	Teams        []string
	CreatedAt    time.Time
	LastLoginAt  time.Time // zero: never
	// NoLocationProfiling: the user objected to location profiling (GDPR art. 21);
	// their sign-ins are not geolocated.
	NoLocationProfiling bool
	// DeletedAt is when an administrator deleted the member (soft delete); zero for a
	// live one. Only DeletedUsers returns deleted members.
	DeletedAt time.Time
}

// UserStore keeps the users of one tenant. Every method but CreateUser, CountUsers,
// DeletedUsers, RestoreUser and PurgeUser acts on live users only: a deleted user is
// not found (ErrNotFound), not listed and not counted as an owner, although their
// e-mail stays taken (CreateUser: ErrConflict) until they are purged.
type UserStore interface {
	// CreateUser inserts u (u.TenantID is ignored: the handle's tenant is used);
	// ErrConflict if the e-mail is taken in this tenant.
	CreateUser(ctx context.Context, u User) error
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail looks up a case-folded e-mail.
	UserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns the tenant's users ordered by e-mail.
	ListUsers(ctx context.Context) ([]User, error)
	// CountUsers counts every account of the tenant, deleted ones not yet purged
	// included: it tells whether the workspace was ever set up, and deleting members
	// must never reopen the first-owner setup.
	CountUsers(ctx context.Context) (int, error)
	SetPasswordHash(ctx context.Context, userID, hash string) error
	SetLastLogin(ctx context.Context, userID string, at time.Time) error
	// SetNoLocationProfiling records the user's objection to location profiling.
	SetNoLocationProfiling(ctx context.Context, userID string, objects bool) error
	// SetDisplayName changes the user's display name.
	SetDisplayName(ctx context.Context, userID, name string) error
	// SetEmail changes a live user's (case-folded) e-mail; ErrConflict, changing
	// nothing, when another user of the tenant has it (a deleted one not yet purged
	// included), ErrNotFound when no live user has the id.
	SetEmail(ctx context.Context, userID, email string) error
	// SetRoles replaces the user's roles, and SetStatus their status. Both are atomic
	// against concurrent changes: each returns ErrLastOwner, changing nothing, when it
	// would leave the tenant without an active owner (an active user with the role
	// "owner"), also when two owners demote or disable each other at the same time.
	SetRoles(ctx context.Context, userID string, roles []string) error
	SetStatus(ctx context.Context, userID, status string) error
	// DeleteUser soft-deletes a live user at 'at' and, in the same transaction,
	// revokes their sessions and refresh tokens; ErrNotFound when no live user has the
	// id, ErrLastOwner (changing nothing) when they are the tenant's last active owner
	// (atomic like SetStatus).
	DeleteUser(ctx context.Context, userID string, at time.Time) error
	// DeletedUsers returns the tenant's deleted users, not purged yet, ordered by
	// e-mail.
	DeletedUsers(ctx context.Context) ([]User, error)
	// RestoreUser makes a deleted user live again (status, roles, teams and factors as
	// they were; their sessions stay ended); ErrNotFound when no deleted user has the
	// id.
	RestoreUser(ctx context.Context, userID string) error
	// PurgeUser removes for good a user deleted before deletedBefore, with their
	// sessions, factors (TOTP, recovery codes, passkeys), refresh tokens, one-time
	// links, pending e-mail change and sign-in history, and the tenant's mail still
	// in the backend's outbox addressed to them (their address, or the one a pending
	// change was to confirm; queued or failed alike), in one transaction; ErrNotFound
	// when no user with the id was deleted before then (a live one is never purged).
	// The audit trail is the caller's business (AuditStore.ErasePersonal).
	PurgeUser(ctx context.Context, userID string, deletedBefore time.Time) error
}

// Session is a signed-in browser or client. The token itself is never stored.
type Session struct {
	ID          string // public id (shown on the sessions page, sent upstream)
	TenantID    string
	UserID      string
	TokenHash   []byte // SHA-256 of the bearer token
	AuthMethods []string
	CreatedAt   time.Time
	ExpiresAt   time.Time // absolute expiry
	LastActive  time.Time
	RevokedAt   time.Time // zero: not revoked
	IP          string    // where it was created
	LastIP      string    // where it was last seen ("" until a touch recorded one)
	UserAgent   string
	// VerifiedAt is when the user last proved who they are in this session (the
	// sign-in, or a re-authentication); zero means CreatedAt.
	VerifiedAt time.Time
	// Pending marks a half-signed-in session: the password was right, a second factor
	// is outstanding. It lives minutes, grants nothing upstream or in the portal beyond
	// the second-factor step, and is replaced by a new session when that succeeds.
	Pending bool
}

// SessionStore keeps the sessions of one tenant.
type SessionStore interface {
	// CreateSession inserts s; ErrConflict if the id or token hash exists.
	CreateSession(ctx context.Context, s Session) error
	// SessionByTokenHash returns the session (revoked or expired ones included: the
	// caller decides).
	SessionByTokenHash(ctx context.Context, hash []byte) (Session, error)
	SessionByID(ctx context.Context, id string) (Session, error)
	// RevokeSession marks a session revoked at 'at' (idempotent; ErrNotFound if absent).
	RevokeSession(ctx context.Context, id string, at time.Time) error
	// TouchSession moves last_active forward (never backward) and, when ip is not
	// empty, records it as the last IP (only together with a forward move).
	TouchSession(ctx context.Context, id string, at time.Time, ip string) error
	// VerifySession records a re-authentication: VerifiedAt moves forward to at.
	VerifySession(ctx context.Context, id string, at time.Time) error
	// RevokeUserSessions revokes every session of the user that is not revoked yet,
	// except the one with id except ("" for none), and returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID, except string, at time.Time) (int, error)
	// ListUserSessions returns the user's sessions that are neither revoked nor
	// expired at now, newest first.
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
}

// AuditRecord is one entry of a tenant's append-only, hash-chained audit trail.
type AuditRecord struct {
	Seq        int64 // per-tenant sequence, assigned by Append, from 1
	Time       time.Time
	TenantID   string
	ActorID    string
	ActorEmail string
	Action     string // e.g. "login.success"
	Target     string
	Outcome    string // "success", "failure", "denied"
	IP         string
	UserAgent  string
	SessionID  string
	RequestID  string
	Details    map[string]string
	PrevHash   []byte // Hash of record Seq-1 (32 zero bytes for Seq 1)
	Hash       []byte // SHA-256 over PrevHash and this record's canonical encoding
	// Version is the record's chain format: 1 hashes every field; 2 hashes the
	// personal fields (ActorEmail, IP, UserAgent, Details) only through PIIDigest, so
	// that they can be erased without breaking the chain. Append stores 0 as 1.
	Version int
	// PIIDigest (version 2) is the keyed digest of the personal fields (see
	// audit.Digester); nil for version 1.
	PIIDigest []byte
	// PIIErased (version 2) reports that the personal fields were erased (they are
	// empty now); PIIDigest still vouches for what they were. Append stores false.
	PIIErased bool
}

// AuditErasure is what AuditStore.ErasePersonal did.
type AuditErasure struct {
	Erased int // version-2 records whose personal fields it erased
	Kept   int // version-1 records of the user, which cannot be erased (their chain hash covers the fields)
}

// AuditStore is a tenant's audit trail. There is deliberately no update or delete
// (records leave only by expiry: AuditCutStore).
type AuditStore interface {
	// Append assigns Seq, PrevHash and Hash atomically (concurrent appends never fork the
	// chain) using hash to compute Hash from the filled-in record, stores the record
	// durably and returns it.
	Append(ctx context.Context, r AuditRecord, hash func(AuditRecord) []byte) (AuditRecord, error)
	// AppendBatch appends rs in order, as Append would one by one, in one atomic and
	// durable step (all or none): the group commit of many records.
	AppendBatch(ctx context.Context, rs []AuditRecord, hash func(AuditRecord) []byte) ([]AuditRecord, error)
	// ListAudit returns records with Seq > afterSeq in sequence order, at most limit.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]AuditRecord, error)
	// SearchAudit returns the records that match every filter of q, newest first (Seq
	// descending), at most q.Limit; a Limit outside 1..MaxAuditSearch is an error.
	SearchAudit(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
	// ErasePersonal erases, in one transaction, the personal fields (ActorEmail, IP,
	// UserAgent, Details: set empty, PIIErased set) of every version-2 record that
	// userID acted in (ActorID) or that targets the user ("user:"+userID), not erased
	// yet; nothing else changes. It counts the version-1 records of the user it had to
	// keep. An empty userID is an error. This is the only change the database allows
	// on audit rows.
	ErasePersonal(ctx context.Context, userID string) (AuditErasure, error)
}

// MaxAuditSearch is the largest page SearchAudit returns.
const MaxAuditSearch = 500

// AuditQuery filters a tenant's audit trail; the zero value of a field does not
// filter. A page goes on from the Seq of the previous page's last record (BeforeSeq).
type AuditQuery struct {
	From, To     time.Time    // From <= Time < To; a zero bound is open
	ActorID      string       // exact
	ActorEmail   string       // exact, case-insensitive (ASCII on every backend)
	ActionPrefix string       // Action starts with it (case-sensitive)
	Outcome      string       // exact
	IP           string       // exact
	CIDR         netip.Prefix // the record's IP lies in it; valid = set
	Target       string       // exact
	// Text is a case-insensitive (at least for ASCII) substring of the action, the
	// target, the actor's e-mail or a details key or value.
	Text      string
	BeforeSeq int64 // only Seq < BeforeSeq; 0: from the newest
	Limit     int   // 1..MaxAuditSearch
}

// OneTimeTokenStore keeps single-use secrets (setup links, invitations, password
// resets) by hash, each with the subject it is for (a user id; "" for none).
type OneTimeTokenStore interface {
	// CreateOneTimeToken stores hash for purpose and subject until expires.
	CreateOneTimeToken(ctx context.Context, purpose string, hash []byte, subject string, expires time.Time) error
	// ConsumeOneTimeToken atomically uses the token and returns its subject: it
	// succeeds exactly once for a live token and returns ErrNotFound for an unknown,
	// used or expired one, also under concurrent calls.
	ConsumeOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (subject string, err error)
	// CheckOneTimeToken tells whether the token is live, and for whom, without using it.
	CheckOneTimeToken(ctx context.Context, purpose string, hash []byte, now time.Time) (subject string, err error)
	// RevokeSubjectTokens uses up every live token of purpose for subject (an older
	// reset link dies when a newer one is used; a new invitation replaces the old).
	RevokeSubjectTokens(ctx context.Context, purpose, subject string, now time.Time) error
}

// TOTPSecret is a user's TOTP key, sealed (AES-256-GCM, see secret.FieldCipher).
type TOTPSecret struct {
	UserID      string
	Ciphertext  []byte
	KeyID       string    // which field key sealed it
	CreatedAt   time.Time // enrolment started
	ConfirmedAt time.Time // zero: enrolment pending (a correct code not yet seen): not a factor
	// DeletedAt is when the secret was removed (soft delete; RemovedTOTP only), zero
	// for a live one.
	DeletedAt time.Time
}

// RemovedFactorWindow is how long a removed second factor (authenticator app,
// passkey, recovery-code set) can be restored; after it the background job purges it
// for good. It is the members' window.
const RemovedFactorWindow = DeletedUserRestoreWindow

// TOTPStore keeps one TOTP secret per user and the time steps already accepted. A
// removed secret (soft delete) is invisible to every method but RemovedTOTP,
// RestoreTOTP and PurgeRemovedTOTP.
type TOTPStore interface {
	// PutPendingTOTP stores an unconfirmed secret, replacing an earlier unconfirmed or
	// a removed one (which ends the removed one's restore window); ErrConflict if the
	// user has a live confirmed secret (remove it first).
	PutPendingTOTP(ctx context.Context, s TOTPSecret) error
	// ConfirmTOTP marks the pending secret confirmed; ErrNotFound if there is none.
	ConfirmTOTP(ctx context.Context, userID string, at time.Time) error
	// TOTPByUser returns the user's live secret, confirmed or pending; ErrNotFound if
	// none.
	TOTPByUser(ctx context.Context, userID string) (TOTPSecret, error)
	// DeleteTOTP removes the user's secret (idempotent): a confirmed one is marked
	// removed at at (restorable), a pending one, never a factor, is deleted.
	DeleteTOTP(ctx context.Context, userID string, at time.Time) error
	// RemovedTOTP returns the user's removed secret, DeletedAt set; ErrNotFound if none.
	RemovedTOTP(ctx context.Context, userID string) (TOTPSecret, error)
	// RestoreTOTP makes the secret removed at or after since live again; ErrConflict
	// when a newer enrolment took its place, ErrNotFound when there is none.
	RestoreTOTP(ctx context.Context, userID string, since time.Time) error
	// PurgeRemovedTOTP deletes the secrets removed before before; it returns how many.
	PurgeRemovedTOTP(ctx context.Context, before time.Time) (int64, error)
	// UseTOTPStep atomically records that time step 'step' was accepted for the user:
	// nil exactly once per (user, step), ErrConflict for every later call, also under
	// concurrency (an insert that fails on the duplicate, never check-then-act).
	UseTOTPStep(ctx context.Context, userID string, step int64, at time.Time) error
}

// RemovedCodeSet is a user's removed set of recovery codes.
type RemovedCodeSet struct {
	Unused    int // codes not used before the removal
	DeletedAt time.Time
	// Superseded: the user has a live set (used up or not), so RestoreRecoveryCodes
	// refuses this one.
	Superseded bool
}

// RecoveryCodeStore keeps a user's single-use recovery codes, by hash: a live set
// and at most one removed set (soft delete), which only RemovedRecoveryCodes,
// RestoreRecoveryCodes and PurgeRemovedRecoveryCodes see.
type RecoveryCodeStore interface {
	// ReplaceRecoveryCodes stores these (all unused) as the user's live set; the set
	// they replace becomes the removed one (it can never be restored: a live set
	// supersedes it), and an earlier removed set is deleted.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode atomically marks the code used and returns how many unused codes
	// remain; ErrNotFound for an unknown or already used code (exactly one of several
	// concurrent uses of one code succeeds).
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (remaining int, err error)
	// CountRecoveryCodes returns the number of unused codes.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
	// DeleteRecoveryCodes marks the user's live set removed at at, deleting an earlier
	// removed set; with no live codes nothing changes.
	DeleteRecoveryCodes(ctx context.Context, userID string, at time.Time) error
	// RemovedRecoveryCodes returns the user's removed set; ErrNotFound if none.
	RemovedRecoveryCodes(ctx context.Context, userID string) (RemovedCodeSet, error)
	// RestoreRecoveryCodes makes the set removed at or after since live again (its used
	// codes stay used); ErrConflict while the user has a live set, ErrNotFound when
	// there is no such removed set.
	RestoreRecoveryCodes(ctx context.Context, userID string, since time.Time) error
	// PurgeRemovedRecoveryCodes deletes the codes removed before before; it returns how
	// many.
	PurgeRemovedRecoveryCodes(ctx context.Context, before time.Time) (int64, error)
}

// Passkey is a registered WebAuthn credential.
type Passkey struct {
	ID              string // our id (shown, used to rename/delete)
	UserID          string
	CredentialID    []byte // unique across all tenants
	PublicKey       []byte // COSE key
	AttestationType string
	AAGUID          []byte
	SignCount       uint32
	Transports      []string
	BackupEligible  bool
	BackupState     bool
	Name            string
	CreatedAt       time.Time
	LastUsedAt      time.Time // zero: never
	// DeletedAt is when the passkey was removed (soft delete; RemovedPasskeys only),
	// zero for a live one.
	DeletedAt time.Time
}

// PasskeyStore keeps the passkeys of a tenant's users. A removed passkey (soft
// delete) is invisible to every method but RemovedPasskeys, RestorePasskey,
// PurgeRemovedPasskeys and AddPasskey's credential-id check.
type PasskeyStore interface {
	// AddPasskey stores p; ErrConflict if the credential id is registered already by
	// anyone, except a passkey of p's user that was removed: that one is deleted for
	// good (the same credential registered again supersedes it), in one transaction.
	AddPasskey(ctx context.Context, p Passkey) error
	// ListPasskeys returns the user's live passkeys, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// PasskeyByCredentialID finds a passkey of this tenant; ErrNotFound if none.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (Passkey, error)
	// RecordPasskeyUse stores a successful assertion's sign count, backup state and
	// time. It is an atomic compare: ErrConflict when signCount is not greater than the
	// stored count, unless both are 0 (authenticators that do not count).
	RecordPasskeyUse(ctx context.Context, credentialID []byte, signCount uint32, backupState bool, at time.Time) error
	// RenamePasskey and DeletePasskey act on one of the user's passkeys (ErrNotFound
	// if it is not the user's).
	RenamePasskey(ctx context.Context, userID, id, name string) error
	// DeletePasskey marks the passkey removed at at.
	DeletePasskey(ctx context.Context, userID, id string, at time.Time) error
	// RemovedPasskeys returns the user's removed passkeys, most recently removed
	// first, DeletedAt set.
	RemovedPasskeys(ctx context.Context, userID string) ([]Passkey, error)
	// RestorePasskey makes the user's passkey removed at or after since live again
	// (ErrNotFound if there is none).
	RestorePasskey(ctx context.Context, userID, id string, since time.Time) error
	// PurgeRemovedPasskeys deletes the passkeys removed before before; it returns how
	// many.
	PurgeRemovedPasskeys(ctx context.Context, before time.Time) (int64, error)
}

// SecuritySettings is a tenant's sign-in policy.
type SecuritySettings struct {
	// Require2FA: every member must have a second factor; a member without one may
	// sign in (and is reminded) until GracePeriod after the policy applied to them
	// (the later of Require2FASince and their account's creation), then only enrol.
	Require2FA      bool
	Require2FASince time.Time
	GracePeriod     time.Duration // 0 in never-saved settings means the default, 7 days
	// RequirePasskeysForAdmins: owners and admins must sign in with a passkey.
	RequirePasskeysForAdmins bool
	// AnomalyAction is what an unusual sign-in (new device, new country, impossible
	// travel) leads to: "" or "alert" (e-mail and audit), "second_factor" (also refused
	// to users without a second factor), "block" (refused).
	AnomalyAction string
	// Lockout policy of this tenant; zero values take the gateway's configured ones.
	LockoutThreshold int
	LockoutDuration  time.Duration
	LockoutMax       time.Duration
	// PermissionReviewOff: the owners turned the periodic permission-review mail off
	// for this tenant (the review page stays).
	PermissionReviewOff bool
	// DisclosureContact (a mailto: or https: URI) and DisclosureExpires make the
	// workspace's /.well-known/security.txt (RFC 9116); no contact: none is served.
	DisclosureContact string
	DisclosureExpires time.Time
	UpdatedAt         time.Time
	UpdatedBy         string // user id
}

// SettingsStore keeps a tenant's settings.
type SettingsStore interface {
	// SecuritySettings returns the tenant's policy (the zero value when never set).
	SecuritySettings(ctx context.Context) (SecuritySettings, error)
	PutSecuritySettings(ctx context.Context, s SecuritySettings) error
	// RenameTenant sets the tenant's display name (ErrNotFound for an unknown tenant).
	RenameTenant(ctx context.Context, name string) error
}

// LoginEvent is one successful sign-in, as anomaly detection (package risk) records it.
type LoginEvent struct {
	UserID string
	At     time.Time // required
	IP     string
	// Where GeoIP placed IP. Country is an ISO 3166-1 alpha-2 code ("" when unknown);
	// Lat, Lon and AccuracyKm mean something only when HasLocation is set (NaN is kept).
	Country, City        string
	Lat, Lon, AccuracyKm float64
	HasLocation          bool
	// DeviceKey recognises the device (risk.DeviceKey; "" when the client sent no
	// device cookie); DeviceLabel is its coarse description ("Firefox on Linux").
	DeviceKey, DeviceLabel string
}

// LoginHistoryStore keeps a tenant's recent sign-ins per user, and for good the facts
// "this user has signed in from this device / this country before".
type LoginHistoryStore interface {
	// AddLoginEvent records e (the user must exist in this tenant, else ErrNotFound)
	// and marks e.DeviceKey and e.Country as seen for the user, each only when not
	// empty. Only the user's latest LoginHistoryLimit events are kept; the seen facts
	// outlive the events they came from.
	AddLoginEvent(ctx context.Context, e LoginEvent) error
	// LastLoginEvent returns the user's latest event (greatest At; of equal times, the
	// one recorded last); ErrNotFound when there is none.
	LastLoginEvent(ctx context.Context, userID string) (LoginEvent, error)
	// DeviceSeen tells whether an earlier event of the user carried deviceKey; always
	// false for "".
	DeviceSeen(ctx context.Context, userID, deviceKey string) (bool, error)
	// CountrySeen tells whether an earlier event of the user carried country (compared
	// exactly); always false for "".
	CountrySeen(ctx context.Context, userID, country string) (bool, error)
	// LastLocatedLoginEvent is LastLoginEvent among the events that have a location
	// (travel is measured between located sign-ins; ErrNotFound when there is none).
	LastLocatedLoginEvent(ctx context.Context, userID string) (LoginEvent, error)
}

// LoginHistoryLimit is how many events LoginHistoryStore keeps per user.
const LoginHistoryLimit = 100

// Maintenance is the housekeeping that spans tenants.
type Maintenance interface {
	// AcquireLease takes the named lease for holder until now+ttl, or renews it when
	// holder has it; false when another holder's lease is still live. Of concurrent
	// callers at most one gets a free lease.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (bool, error)
	// Purge deletes, in every tenant, what nobody needs any more: sessions revoked or
	// expired before p.Sessions (pending ones included), TOTP steps used before
	// p.TOTPSteps, one-time tokens used or expired before p.Tokens (and pending e-mail
	// changes whose link expired before it, counted with the tokens), refresh tokens
	// whose family expired or that were revoked before p.RefreshTokens. Nothing live is
	// touched.
	Purge(ctx context.Context, p PurgeBefore) (PurgeResult, error)
	// ActiveSessions counts, in every tenant, the sessions live at now: created at or
	// before it, neither expired nor revoked by then, and not pending a second factor.
	ActiveSessions(ctx context.Context, now time.Time) (int64, error)
}

// PurgeBefore gives the cut-off time of each kind of record. RefreshTokens: refresh
// tokens whose family expired, or that were revoked, before it (spent ones are kept
// until then: presenting one again is how theft is detected).
type PurgeBefore struct {
	Sessions, TOTPSteps, Tokens, RefreshTokens time.Time
}

// PurgeResult counts what a purge deleted.
type PurgeResult struct {
	Sessions, TOTPSteps, Tokens, RefreshTokens int64
}

// AuditCheckpoint is a signed statement that record Seq of a tenant's audit trail
// has hash Hash (internal/audit defines the signed message).
type AuditCheckpoint struct {
	Seq       int64
	Hash      []byte
	Time      time.Time // when it was signed
	KeyID     string
	Signature []byte
}

// CheckpointStore keeps a tenant's audit checkpoints.
type CheckpointStore interface {
	// AddCheckpoint stores c (ErrConflict when the tenant has one at c.Seq).
	AddCheckpoint(ctx context.Context, c AuditCheckpoint) error
	// LatestCheckpoint returns the checkpoint with the highest Seq (ErrNotFound when
	// there is none).
	LatestCheckpoint(ctx context.Context) (AuditCheckpoint, error)
	// ListCheckpoints returns the checkpoints with Seq > afterSeq, by Seq, at most limit.
	ListCheckpoints(ctx context.Context, afterSeq int64, limit int) ([]AuditCheckpoint, error)
}

// AuditCut is a signed statement that a tenant's audit records 1 to Seq expired under
// the retention policy, record Seq having hash Hash: verification of what remains
// resumes from it (internal/audit defines the signed message).
type AuditCut struct {
	Seq       int64 // the last expired record
	Hash      []byte
	Time      time.Time // when it was signed
	KeyID     string
	Signature []byte
}

// AuditCutStore expires a tenant's oldest audit records: the only way audit rows
// ever leave the store (the database refuses any other delete).
type AuditCutStore interface {
	// ExpireAudit stores c and deletes the tenant's records with Seq <= c.Seq, in one
	// transaction, and returns how many it deleted. Record c.Seq must be stored with
	// hash c.Hash (ErrNotFound when it is not there, ErrConflict when its hash
	// differs), a later record must exist (ErrConflict: the newest record carries the
	// chain on and never expires), and the tenant may have no cut at c.Seq yet
	// (ErrConflict).
	ExpireAudit(ctx context.Context, c AuditCut) (int64, error)
	// LastCut returns the cut with the highest Seq <= atMost (ErrNotFound when there
	// is none).
	LastCut(ctx context.Context, atMost int64) (AuditCut, error)
}

// RefreshToken is one link of a refresh-token family: the tokens a client got by
// rotating, from the first one issued for a session. Only its SHA-256 is kept.
type RefreshToken struct {
	ID        string
	FamilyID  string
	ParentID  string // "" for the first of its family
	SessionID string
	UserID    string
	TokenHash []byte
	CreatedAt time.Time
	ExpiresAt time.Time // the family's absolute end (its session's)
	UsedAt    time.Time // zero: not rotated yet (the live one)
	RevokedAt time.Time // zero: not revoked
}

// RefreshTokenStore keeps the refresh tokens of one tenant.
type RefreshTokenStore interface {
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RefreshTokenByHash finds a token by hash, used, revoked or expired alike
	// (ErrNotFound when there is none).
	RefreshTokenByHash(ctx context.Context, hash []byte) (RefreshToken, error)
	// RotateRefreshToken marks parent used at now and stores child, in one
	// transaction, when parent is neither used nor revoked; it reports whether it did.
	// Of concurrent rotations of one parent exactly one succeeds.
	RotateRefreshToken(ctx context.Context, parentID string, child RefreshToken, now time.Time) (bool, error)
	// RevokeRefreshFamily revokes every token of a family not yet revoked and returns
	// how many.
	RevokeRefreshFamily(ctx context.Context, familyID string, now time.Time) (int, error)
	// LiveRefreshSessions returns the ids of the user's sessions that have a live
	// refresh token (neither used, revoked nor expired at now).
	LiveRefreshSessions(ctx context.Context, userID string, now time.Time) ([]string, error)
}

// Role is a tenant's own role definition: a role it added, or new permissions for a
// built-in one (policies/roles.yaml). The permissions are checked by the caller
// (package policy) before they are stored.
type Role struct {
	Name        string
	Description string
	Permissions []string // resource:action:scope
	UpdatedAt   time.Time
	// DeletedAt is when an owner deleted the role (soft delete; DeletedRoles only),
	// zero for a live one.
	DeletedAt time.Time
}

// DeletedRestoreWindow is how long a deleted team or role can be restored; after it
// the background job purges it for good. It is the members' window.
const DeletedRestoreWindow = DeletedUserRestoreWindow

// RoleStore keeps a tenant's own role definitions.
type RoleStore interface {
	// ListRoles returns the tenant's live roles ordered by name.
	ListRoles(ctx context.Context) ([]Role, error)
	// PutRole inserts the role named r.Name or replaces it; ErrConflict (nothing
	// changed) while a deleted role has the name.
	PutRole(ctx context.Context, r Role) error
	// SoftDeleteRole marks the live role deleted at at (ErrNotFound if absent): it is
	// no longer listed, so it grants nothing, while its holders keep its name.
	SoftDeleteRole(ctx context.Context, name string, at time.Time) error
	// DeletedRoles returns the deleted roles ordered by name, DeletedAt set.
	DeletedRoles(ctx context.Context) ([]Role, error)
	// RestoreRole makes a deleted role live again (ErrNotFound if it is not deleted).
	RestoreRole(ctx context.Context, name string) error
	// PurgeRole removes a role deleted before deletedBefore, and its name from every
	// user's roles, in one transaction (ErrNotFound otherwise).
	PurgeRole(ctx context.Context, name string, deletedBefore time.Time) error
	// DeleteRole removes the named live role for good (ErrNotFound if absent): it
	// resets a changed built-in role. With ifUnused, it
	// returns ErrInUse, changing nothing, while a user who is not deleted holds the
	// role; the check and the delete are one atomic step.
	DeleteRole(ctx context.Context, name string, ifUnused bool) error
}

// Team is a group of a tenant's users (User.Teams holds the ids of a user's teams).
type Team struct {
	ID        string
	Name      string // unique per tenant, compared case-insensitively
	CreatedAt time.Time
	// DeletedAt is when an administrator deleted the team (soft delete), zero for a
	// live one; DeletedMembers (DeletedTeams only) are the ids of those who were in it.
	DeletedAt      time.Time
	DeletedMembers []string
}

// TeamStore keeps a tenant's teams and who is in them.
type TeamStore interface {
	// CreateTeam inserts t; ErrConflict if its id or name (in any case) is taken.
	CreateTeam(ctx context.Context, t Team) error
	// ListTeams returns the tenant's live teams ordered by name. Every lookup below
	// sees live teams only; a deleted team's name stays taken until it is purged.
	ListTeams(ctx context.Context) ([]Team, error)
	TeamByID(ctx context.Context, id string) (Team, error)
	// TeamByName finds a team by name in any case.
	TeamByName(ctx context.Context, name string) (Team, error)
	// DeleteTeam marks the live team deleted at at and, in the same transaction,
	// takes its id out of every user's Teams, remembering them (ErrNotFound if absent).
	DeleteTeam(ctx context.Context, id string, at time.Time) error
	// DeletedTeams returns the deleted teams ordered by name, with DeletedAt and
	// DeletedMembers.
	DeletedTeams(ctx context.Context) ([]Team, error)
	// RestoreTeam makes a deleted team live again and puts it back into the Teams of
	// the users who were in it (ErrNotFound if it is not deleted).
	RestoreTeam(ctx context.Context, id string) error
	// PurgeTeam removes a team deleted before deletedBefore (ErrNotFound otherwise).
	PurgeTeam(ctx context.Context, id string, deletedBefore time.Time) error
	// AddTeamMember puts the user in the team (nothing changes if they are in it
	// already); ErrNotFound for an unknown team or user. Concurrent changes to one
	// user's teams never lose one another.
	AddTeamMember(ctx context.Context, teamID, userID string) error
	// RemoveTeamMember takes the user out of the team (nothing changes if they are not
	// in it); ErrNotFound for an unknown user.
	RemoveTeamMember(ctx context.Context, teamID, userID string) error
	// TeamMembers returns the ids of the team's users, ordered.
	TeamMembers(ctx context.Context, teamID string) ([]string, error)
}

// PeriodStore records per-tenant work that must happen once per period (the
// quarterly permission review), whichever instance does it.
type PeriodStore interface {
	// MarkPeriodDone records that job was done for period at at; false, changing
	// nothing, when it was recorded already. Of concurrent callers exactly one gets
	// true.
	MarkPeriodDone(ctx context.Context, job, period string, at time.Time) (bool, error)
	// PeriodDone reports whether job was recorded done for period.
	PeriodDone(ctx context.Context, job, period string) (bool, error)
}
