-- +goose Up
-- DESIGN §11, docs/ENTERPRISE.md: the enterprise IdPs a tenant trusts to
-- issue ID-JAGs (one row per issuer).
CREATE TABLE enterprise_idps (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    issuer TEXT NOT NULL,
    jwks_uri TEXT NOT NULL DEFAULT '',
    allowed_clients TEXT NOT NULL DEFAULT '[]',
    scopes TEXT NOT NULL DEFAULT '[]',
    created_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX idx_enterprise_idps_tenant_issuer ON enterprise_idps (tenant_id, issuer);

-- Single-use identifiers (ID-JAG, client assertion and DPoP proof jti)
-- until they expire; the primary key is what makes one use hold across
-- replicas.
CREATE TABLE used_jtis (
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    jti_key TEXT NOT NULL,
    expires_at DATETIME NOT NULL,
    PRIMARY KEY (tenant_id, jti_key)
);
CREATE INDEX idx_used_jtis_expires_at ON used_jtis (expires_at);

-- private_key_jwt (RFC 7523 §2.2): a pre-registered client's keys, inline
-- or by URL; DPoP (RFC 9449 §5): a public client's refresh token is bound
-- to the key its first token request proved.
ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN dpop_jkt;
ALTER TABLE clients DROP COLUMN jwks_uri;
ALTER TABLE clients DROP COLUMN jwks;
DROP TABLE used_jtis;
DROP TABLE enterprise_idps;
