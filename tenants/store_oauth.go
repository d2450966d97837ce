package tenants

import (
	"context"
	"time"
)

// OAuthStore holds the authorization server's state: clients, users,
// consents, pending authorizations, grants, codes and refresh tokens.
type OAuthStore interface {
	// Clients.
	CreateClient(ctx context.Context, c *Client) error // ErrConflict if the id exists
	GetClient(ctx context.Context, tenantID, clientID string) (*Client, error)
	// FindClientByMetadataHash finds a DCR client registered with identical metadata.
	FindClientByMetadataHash(ctx context.Context, tenantID, hash string) (*Client, error)
	// FindClientAnyTenant finds tenants holding clientID (root-level endpoint fallback).
	FindClientTenants(ctx context.Context, clientID string) ([]string, error)
	ListClients(ctx context.Context, tenantID string, p Page) (items []Client, next string, err error)
	UpdateClient(ctx context.Context, c *Client) error
	TouchClient(ctx context.Context, tenantID, clientID string, at time.Time) error
	// DeleteClient removes the client and revokes its grants.
	DeleteClient(ctx context.Context, tenantID, clientID string) error

	// Users.
	// UpsertUser finds the user by (IdP, IdPIssuer, IdPSubject) or creates
	// it; updates profile fields (email, name, username, orgs).
	UpsertUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, tenantID, id string) (*User, error)
	// ListUsers pages by id.
	ListUsers(ctx context.Context, tenantID string, p Page) (items []User, next string, err error)
	// ListLiveGrantsForUser lists the user's unrevoked grants unexpired at t.
	ListLiveGrantsForUser(ctx context.Context, tenantID, userID string, at time.Time) ([]Grant, error)
	// DeleteConsentsForUser forgets every consent the user gave, and their
	// pending authorizations.
	DeleteConsentsForUser(ctx context.Context, tenantID, userID string) error

	// Consents.
	GetConsent(ctx context.Context, tenantID, userID, clientID string) (*Consent, error)
	PutConsent(ctx context.Context, c *Consent) error

	// Pending authorizations.
	CreatePending(ctx context.Context, p *PendingAuthorization) error
	GetPending(ctx context.Context, tenantID, id string) (*PendingAuthorization, error)
	UpdatePending(ctx context.Context, p *PendingAuthorization) error
	DeletePending(ctx context.Context, tenantID, id string) error

	// Grants.
	CreateGrant(ctx context.Context, g *Grant) error
	GetGrant(ctx context.Context, tenantID, id string) (*Grant, error)
	// ListGrants and ListGrantsForUser page newest first (created_at, then
	// id, descending) across pages.
	ListGrants(ctx context.Context, tenantID string, p Page) (items []Grant, next string, err error)
	ListGrantsForUser(ctx context.Context, tenantID, userID string, p Page) (items []Grant, next string, err error)
	UpdateGrant(ctx context.Context, g *Grant) error
	// TouchGrant records use of an unrevoked grant (and moves its expiry when
	// expiresAt is set) without writing any other column, so it can never
	// undo a concurrent revocation the way a full UpdateGrant could.
	TouchGrant(ctx context.Context, tenantID, id string, at time.Time, expiresAt *time.Time) error
	// RevokeGrant marks the grant revoked and deletes its refresh tokens and codes.
	// Revoking a revoked grant is not an error.
	RevokeGrant(ctx context.Context, tenantID, id, reason string, at time.Time) error
	// ListGrantsRevokedSince lists grants (any tenant) revoked at or after
	// t, up to limit, oldest revocation first: the revocation feed every
	// replica polls (docs/RULES.md §6), so a lost bus notice cannot keep a
	// revoked grant cached.
	ListGrantsRevokedSince(ctx context.Context, since time.Time, limit int) ([]GrantRef, error)
	// FindClientGrant finds the newest unrevoked grant a client holds for
	// itself (client_credentials: no user, subject = client id) for resource
	// and exactly scopes that is still live at liveUntil. ErrNotFound if none.
	FindClientGrant(ctx context.Context, tenantID, clientID, resource string, scopes Strings, liveUntil time.Time) (*Grant, error)
	// CountLiveGrantsForClient counts unrevoked, unexpired grants of a client.
	CountLiveGrantsForClient(ctx context.Context, tenantID, clientID string, at time.Time) (int64, error)

	// Codes.
	CreateAuthCode(ctx context.Context, c *AuthCode) error
	// ConsumeAuthCode atomically marks an unused code used and returns it
	// with its grant (same tenant) and the grant's user's email. A code
	// already used is returned, without its grant, with ErrConflict (the
	// caller revokes its grant).
	ConsumeAuthCode(ctx context.Context, tenantID, hash string, at time.Time) (*AuthCodeWithGrant, error)

	// Refresh tokens.
	CreateRefreshToken(ctx context.Context, r *RefreshToken) error
	GetRefreshToken(ctx context.Context, tenantID, hash string) (*RefreshToken, error)
	// GetRefreshTokenWithGrant reads a token, its grant (same tenant) and the
	// grant's user's email in one query; ErrNotFound for an unknown token.
	GetRefreshTokenWithGrant(ctx context.Context, tenantID, hash string) (*RefreshTokenWithGrant, error)
	// RotateRefreshToken marks old rotated with successor next and inserts next,
	// atomically; ErrConflict if old was already rotated (the caller applies grace).
	RotateRefreshToken(ctx context.Context, tenantID, oldHash string, next *RefreshToken, at time.Time) error
	DeleteRefreshTokensForGrant(ctx context.Context, tenantID, grantID string) error
}

// GrantRef names a grant.
type GrantRef struct {
	TenantID string
	ID       string
}

// RefreshTokenWithGrant is a refresh token read together with its grant and
// the grant's user's email (the refresh path's one read).
type RefreshTokenWithGrant struct {
	Token RefreshToken
	Grant *Grant // nil: the grant is gone
	// UserEmail is the email of the grant's user; "" for a grant without a
	// user or a user without an email.
	UserEmail string
}

// AuthCodeWithGrant is a consumed code with its grant and the grant's
// user's email (the code exchange's one read).
type AuthCodeWithGrant struct {
	Code      AuthCode
	Grant     *Grant // nil: the grant is gone
	UserEmail string
}
