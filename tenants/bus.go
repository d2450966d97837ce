package tenants

import (
	"context"
	"time"
)

// Bus carries notices between replicas (Redis pub/sub in production and in
// the embedded default). Caches that listen also keep short TTLs, so a lost
// notice delays an invalidation but never loses it.
type Bus interface {
	Publish(ctx context.Context, topic, payload string) error
	// Subscribe registers fn for topic; register before the bus starts.
	Subscribe(topic string, fn func(payload string))
}

// Bus topics.
const (
	// TopicGrantRevoked payload: "<tenant_id> <grant_id>".
	TopicGrantRevoked = "grant.revoked"
	// TopicTenantChanged payload: "<tenant_id>".
	TopicTenantChanged = "tenant.changed"
	// TopicKeysRotated payload: "<tenant_id>".
	TopicKeysRotated = "keys.rotated"
	// TopicAPIKeyDeleted payload: "<tenant_id> <api_key_id>".
	TopicAPIKeyDeleted = "apikey.deleted"
	// TopicClientChanged payload: "<tenant_id> <client_id>" (ClientChangedPayload):
	// the client was deleted or its registration changed.
	TopicClientChanged = "client.changed"
)

// ClientChangedPayload is the TopicClientChanged payload.
func ClientChangedPayload(tenantID, clientID string) string { return tenantID + " " + clientID }

// RevokeGrant revokes a grant (its refresh tokens and codes go with it),
// tells every replica, and audits it. Revoking an already revoked grant is
// a no-op that still succeeds.
func RevokeGrant(ctx context.Context, s Store, bus Bus, a Auditor, tenantID, grantID, reason string) error {
	g, err := s.GetGrant(ctx, tenantID, grantID)
	if err != nil {
		return err
	}
	if err := s.RevokeGrant(ctx, tenantID, grantID, reason, time.Now().UTC()); err != nil {
		return err
	}
	if bus != nil {
		_ = bus.Publish(context.WithoutCancel(ctx), TopicGrantRevoked, GrantRevokedPayload(tenantID, grantID))
	}
	if a != nil && g.RevokedAt == nil {
		a.Record(ctx, AuditEvent{TenantID: tenantID, Action: ActGrantRevoked, ClientID: g.ClientID, Subject: g.Subject,
			Reason: reason, Details: JSONMap{DetailGrantID: grantID}})
	}
	return nil
}
