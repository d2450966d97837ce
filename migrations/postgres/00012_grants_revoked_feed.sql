-- +goose Up
-- Every replica asks every two seconds which grants were revoked since its
-- last look (the revocation feed, docs/RULES.md §6): one index serves it.
CREATE INDEX idx_grants_revoked_at ON grants (revoked_at);

-- +goose Down
DROP INDEX idx_grants_revoked_at;
