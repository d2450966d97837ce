-- +goose Up
-- A code and the pending authorization it comes from are bound to the issuer
-- (site) that started the flow: the token endpoint redeems a code only at
-- that issuer (DESIGN §5). Rows written before this have '' and are refused.
ALTER TABLE pending_authorizations ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
ALTER TABLE auth_codes ADD COLUMN issuer TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE auth_codes DROP COLUMN issuer;
ALTER TABLE pending_authorizations DROP COLUMN issuer;
