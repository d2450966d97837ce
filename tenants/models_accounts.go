package tenants

import "time"

// Accounts are the people who run teams in the console (DESIGN §12). They
// are platform-wide rows, not tenant rows: an account belongs to teams
// through memberships, and never signs in to a tenant's connector (those
// people are Users, keyed per tenant by their upstream IdP).

// SuspendedMessage is what every surface of a suspended tenant answers.
const SuspendedMessage = "this connector is suspended by the platform operator; contact the team that runs it"

// Platform roles.
const (
	PlatformOperator = "operator"
)

// Team roles, strongest first.
const (
	RoleOwner  = "owner"  // members, API keys, deletion; and all of admin
	RoleAdmin  = "admin"  // settings, IdPs, clients, revocations; and all of viewer
	RoleViewer = "viewer" // reads everything but secrets
)

// Account is a person with console access.
type Account struct {
	ID                string     `gorm:"primaryKey;size:64" json:"id"`
	Email             string     `gorm:"size:320;uniqueIndex" json:"email"` // lower case
	Name              string     `gorm:"size:200" json:"name,omitempty"`
	PasswordHash      string     `gorm:"size:255" json:"-"` // argon2id PHC string; "" for IdP-only accounts
	EmailVerifiedAt   *time.Time `json:"email_verified_at,omitempty"`
	PlatformRole      string     `gorm:"size:16" json:"platform_role,omitempty"`
	TOTPSecretSealed  string     `gorm:"column:totp_secret_sealed;type:text" json:"-"`
	TOTPEnabledAt     *time.Time `gorm:"column:totp_enabled_at" json:"totp_enabled_at,omitempty"`
	TOTPLastStep      int64      `gorm:"column:totp_last_step" json:"-"` // a code is accepted once
	RecoveryCodes     Strings    `gorm:"type:text" json:"-"`             // SHA-256 hashes, each used once
	PasswordChangedAt *time.Time `json:"password_changed_at,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	UpdatedAt         time.Time  `json:"updated_at"`
}

// Verified reports whether the account proved its email address.
func (a *Account) Verified() bool { return a.EmailVerifiedAt != nil }

// Operator reports whether the account has the platform role.
func (a *Account) Operator() bool { return a.PlatformRole == PlatformOperator }

// TOTPEnabled reports whether a second factor is required at login.
func (a *Account) TOTPEnabled() bool { return a.TOTPEnabledAt != nil }

// AccountIdentity links an account to a platform-level IdP login.
type AccountIdentity struct {
	Provider  string `gorm:"primaryKey;size:16"`  // github | google | oidc
	Subject   string `gorm:"primaryKey;size:255"` // stable id at the provider
	AccountID string `gorm:"size:64;index"`
	CreatedAt time.Time
}

// AccountSession is a console sign-in. The cookie carries a random token;
// only its hash is stored (TokenHash). ID is a public handle for listing
// and revoking.
type AccountSession struct {
	ID         string    `gorm:"primaryKey;size:64" json:"id"`
	TokenHash  string    `gorm:"size:64;uniqueIndex" json:"-"`
	AccountID  string    `gorm:"size:64;index" json:"-"`
	IP         string    `gorm:"column:ip;size:64" json:"ip,omitempty"`
	UserAgent  string    `gorm:"size:512" json:"user_agent,omitempty"`
	Method     string    `gorm:"size:32" json:"method"` // password | password+totp | idp:oidc | link
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `gorm:"index" json:"expires_at"`
}

// Link token purposes.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposeResetPassword = "reset_password"
)

// AccountToken is a single-use expiring link (email verification, password
// reset), stored by hash.
type AccountToken struct {
	Hash      string `gorm:"primaryKey;size:64"`
	AccountID string `gorm:"size:64;index"`
	Purpose   string `gorm:"size:32"`
	CreatedAt time.Time
	ExpiresAt time.Time `gorm:"index"`
	UsedAt    *time.Time
}

// Membership gives an account one role in one team.
type Membership struct {
	TenantID  string    `gorm:"primaryKey;size:64" json:"-"`
	AccountID string    `gorm:"primaryKey;size:64" json:"account_id"`
	Role      string    `gorm:"size:16" json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Invitation asks someone to join a team; the link carries a random token
// stored by hash, single use, expiring.
type Invitation struct {
	TenantID   string     `gorm:"primaryKey;size:64" json:"-"`
	ID         string     `gorm:"primaryKey;size:64" json:"id"`
	Email      string     `gorm:"size:320" json:"email"`
	Role       string     `gorm:"size:16" json:"role"`
	TokenHash  string     `gorm:"size:64;uniqueIndex" json:"-"`
	InvitedBy  string     `gorm:"size:64" json:"invited_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
}

// OutboxMessage is a mail the platform sent, or could not send because no
// SMTP server is configured: then operators read it in their view. The body
// holds a link, so it is sealed at rest.
type OutboxMessage struct {
	ID         string     `gorm:"primaryKey;size:32" json:"id"` // time-ordered
	To         string     `gorm:"column:to_addr;size:320" json:"to"`
	Subject    string     `gorm:"size:200" json:"subject"`
	BodySealed string     `gorm:"type:text" json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	LastError  string     `gorm:"size:1000" json:"last_error,omitempty"`
}

// MemberView is a membership with its account, for member lists.
type MemberView struct {
	Membership
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}
