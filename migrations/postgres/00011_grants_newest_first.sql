-- +goose Up
-- Grants are listed newest first (keyset on created_at, id): one index
-- serves every page.
CREATE INDEX idx_grants_tenant_created ON grants (tenant_id, created_at, id);

-- +goose Down
DROP INDEX idx_grants_tenant_created;
