-- +goose Up
-- Sweeps (DESIGN §7) select by these columns in bounded batches.
CREATE INDEX idx_refresh_tokens_idle_expires_at ON refresh_tokens (idle_expires_at);
CREATE INDEX idx_webhook_deliveries_status_created_at ON webhook_deliveries (status, created_at);

-- +goose Down
DROP INDEX idx_webhook_deliveries_status_created_at;
DROP INDEX idx_refresh_tokens_idle_expires_at;
