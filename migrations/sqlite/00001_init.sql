-- +goose Up
CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    upstream_mcp_url TEXT NOT NULL DEFAULT '',
    custom_domain TEXT UNIQUE,
    custom_domain_verified BOOLEAN NOT NULL DEFAULT 0,
    settings TEXT NOT NULL DEFAULT '{}',
    sealed_secrets TEXT NOT NULL DEFAULT '{}',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE TABLE idp_configs (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    client_id TEXT NOT NULL DEFAULT '',
    client_secret_sealed TEXT NOT NULL DEFAULT '',
    issuer_url TEXT NOT NULL DEFAULT '',
    scopes TEXT NOT NULL DEFAULT '[]',
    allowed_domains TEXT NOT NULL DEFAULT '[]',
    allowed_orgs TEXT NOT NULL DEFAULT '[]',
    auto_login TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, type)
);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL UNIQUE,
    created_at DATETIME NOT NULL,
    last_used_at DATETIME
);
CREATE INDEX idx_api_keys_tenant_id ON api_keys (tenant_id);
CREATE TABLE system_values (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at DATETIME NOT NULL
);
CREATE TABLE clients (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    secret_hash TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    redirect_uris TEXT NOT NULL DEFAULT '[]',
    grant_types TEXT NOT NULL DEFAULT '[]',
    response_types TEXT NOT NULL DEFAULT '[]',
    token_endpoint_auth_method TEXT NOT NULL DEFAULT 'none',
    application_type TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL DEFAULT '',
    client_uri TEXT NOT NULL DEFAULT '',
    logo_uri TEXT NOT NULL DEFAULT '',
    metadata_hash TEXT NOT NULL DEFAULT '',
    skip_consent BOOLEAN NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    last_used_at DATETIME,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_clients_tenant_id_metadata_hash ON clients (tenant_id, metadata_hash);
CREATE INDEX idx_clients_id ON clients (id);
CREATE TABLE users (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    idp TEXT NOT NULL,
    idp_subject TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    username TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    last_login_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX idx_users_tenant_id_idp_idp_subject ON users (tenant_id, idp, idp_subject);
CREATE TABLE consents (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    created_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, user_id, client_id)
);
CREATE TABLE pending_authorizations (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    mode TEXT NOT NULL DEFAULT 'path',
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '',
    code_challenge TEXT NOT NULL,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    idp TEXT NOT NULL DEFAULT '',
    upstream_nonce TEXT NOT NULL DEFAULT '',
    upstream_verifier_sealed TEXT NOT NULL DEFAULT '',
    user_id TEXT NOT NULL DEFAULT '',
    csrf_token TEXT NOT NULL DEFAULT '',
    consent_required BOOLEAN NOT NULL DEFAULT 0,
    upstream_token_sealed TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_pending_authorizations_expires_at ON pending_authorizations (expires_at);
CREATE TABLE grants (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    resource TEXT NOT NULL DEFAULT '',
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at DATETIME,
    revoked_reason TEXT NOT NULL DEFAULT '',
    upstream_idp TEXT NOT NULL DEFAULT '',
    upstream_token_sealed TEXT NOT NULL DEFAULT '',
    upstream_token_expiry DATETIME,
    upstream_refresh_error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX idx_grants_tenant_id_client_id ON grants (tenant_id, client_id);
CREATE INDEX idx_grants_tenant_id_user_id ON grants (tenant_id, user_id);
CREATE INDEX idx_grants_expires_at ON grants (expires_at);
CREATE INDEX idx_grants_upstream_token_expiry ON grants (upstream_token_expiry);
CREATE TABLE auth_codes (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    resource TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]',
    user_id TEXT NOT NULL DEFAULT '',
    mode TEXT NOT NULL DEFAULT 'path',
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    used_at DATETIME,
    PRIMARY KEY (tenant_id, hash)
);
CREATE INDEX idx_auth_codes_tenant_id_grant_id ON auth_codes (tenant_id, grant_id);
CREATE INDEX idx_auth_codes_expires_at ON auth_codes (expires_at);
CREATE TABLE refresh_tokens (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL,
    idle_expires_at DATETIME NOT NULL,
    rotated_at DATETIME,
    successor_hash TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, hash)
);
CREATE INDEX idx_refresh_tokens_tenant_id_grant_id ON refresh_tokens (tenant_id, grant_id);
CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at);
CREATE INDEX idx_refresh_tokens_rotated_at ON refresh_tokens (rotated_at);
CREATE TABLE signing_keys (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kid TEXT NOT NULL,
    alg TEXT NOT NULL,
    state TEXT NOT NULL,
    private_sealed TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at DATETIME NOT NULL,
    activated_at DATETIME,
    retired_at DATETIME,
    delete_after DATETIME,
    PRIMARY KEY (tenant_id, kid)
);
CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    time DATETIME NOT NULL,
    actor TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    client_id TEXT NOT NULL DEFAULT '',
    subject TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_audit_events_tenant_id_time ON audit_events (tenant_id, time);
CREATE INDEX idx_audit_events_tenant_id_action ON audit_events (tenant_id, action);
CREATE INDEX idx_audit_events_tenant_id_client_id ON audit_events (tenant_id, client_id);
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    event_ids TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_status INTEGER NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL,
    delivered_at DATETIME
);
CREATE INDEX idx_webhook_deliveries_tenant_id_created_at ON webhook_deliveries (tenant_id, created_at);

-- +goose Down
DROP TABLE webhook_deliveries;
DROP TABLE audit_events;
DROP TABLE signing_keys;
DROP TABLE refresh_tokens;
DROP TABLE auth_codes;
DROP TABLE grants;
DROP TABLE pending_authorizations;
DROP TABLE consents;
DROP TABLE users;
DROP TABLE clients;
DROP TABLE system_values;
DROP TABLE api_keys;
DROP TABLE idp_configs;
DROP TABLE tenants;
