-- +goose Up
-- docs/SECURITY.md §10: users are keyed by (tenant, IdP type, IdP issuer,
-- subject), so a tenant that changes its OIDC issuer cannot merge two
-- people into one user. Existing users get the issuer their IdP type
-- implies (tenants.IdPConfig.Issuer); orgs keeps the GitHub organizations
-- seen at login, so narrowing allowed_orgs can tell who still qualifies (§11).
ALTER TABLE users ADD COLUMN idp_issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN orgs TEXT NOT NULL DEFAULT '[]';
UPDATE users SET idp_issuer = 'https://github.com' WHERE idp = 'github';
UPDATE users SET idp_issuer = 'https://accounts.google.com' WHERE idp = 'google';
UPDATE users SET idp_issuer = COALESCE((SELECT c.issuer_url FROM idp_configs c WHERE c.tenant_id = users.tenant_id AND c.type = 'oidc'), '')
    WHERE idp = 'oidc';
DROP INDEX idx_users_tenant_id_idp_idp_subject;
CREATE UNIQUE INDEX idx_users_tenant_idp_issuer_subject ON users (tenant_id, idp, idp_issuer, idp_subject);

-- §12: only a verified custom domain is unique; an unverified claim never
-- blocks (or reveals) another tenant's.
ALTER TABLE tenants DROP CONSTRAINT tenants_custom_domain_key;
CREATE UNIQUE INDEX idx_tenants_verified_custom_domain ON tenants (custom_domain) WHERE custom_domain_verified;

-- §14: console sessions live server-side; the cookie names a row (by the
-- SHA-256 of its session id) and logout ends it.
CREATE TABLE console_sessions (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL DEFAULT '',
    key_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    ended_at TIMESTAMPTZ
);
CREATE INDEX idx_console_sessions_tenant_id ON console_sessions (tenant_id);
CREATE INDEX idx_console_sessions_expires_at ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
DROP INDEX idx_tenants_verified_custom_domain;
ALTER TABLE tenants ADD CONSTRAINT tenants_custom_domain_key UNIQUE (custom_domain);
DROP INDEX idx_users_tenant_idp_issuer_subject;
CREATE UNIQUE INDEX idx_users_tenant_id_idp_idp_subject ON users (tenant_id, idp, idp_subject);
ALTER TABLE users DROP COLUMN orgs;
ALTER TABLE users DROP COLUMN idp_issuer;
