package tenants

// Table names are explicit so the SQL migrations and the models agree by
// reading, not by gorm's naming rules.

func (Tenant) TableName() string               { return "tenants" }
func (IdPConfig) TableName() string            { return "idp_configs" }
func (APIKey) TableName() string               { return "api_keys" }
func (SystemValue) TableName() string          { return "system_values" }
func (Client) TableName() string               { return "clients" }
func (User) TableName() string                 { return "users" }
func (Consent) TableName() string              { return "consents" }
func (PendingAuthorization) TableName() string { return "pending_authorizations" }
func (Grant) TableName() string                { return "grants" }
func (AuthCode) TableName() string             { return "auth_codes" }
func (RefreshToken) TableName() string         { return "refresh_tokens" }
func (SigningKey) TableName() string           { return "signing_keys" }
func (AuditEvent) TableName() string           { return "audit_events" }
func (WebhookDelivery) TableName() string      { return "webhook_deliveries" }
