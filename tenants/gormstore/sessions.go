package gormstore

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// CreateConsoleSession inserts a console session.
func (s *Store) CreateConsoleSession(ctx context.Context, cs *tenants.ConsoleSession) error {
	return translate(s.with(ctx).Create(cs).Error)
}

// GetConsoleSession by id.
func (s *Store) GetConsoleSession(ctx context.Context, id string) (*tenants.ConsoleSession, error) {
	return first[tenants.ConsoleSession](s.with(ctx), "id = ?", id)
}

// EndConsoleSession marks a session ended, once.
func (s *Store) EndConsoleSession(ctx context.Context, id string, at time.Time) error {
	return translate(s.with(ctx).Model(&tenants.ConsoleSession{}).Where("id = ? AND ended_at IS NULL", id).Update("ended_at", at.UTC()).Error)
}

// DeleteExpiredConsoleSessions removes sessions that expired before t.
func (s *Store) DeleteExpiredConsoleSessions(ctx context.Context, before time.Time, limit int) (int64, error) {
	res := s.with(ctx).Exec(`DELETE FROM console_sessions WHERE id IN
		(SELECT id FROM console_sessions WHERE expires_at < ? LIMIT ?)`, before.UTC(), limit)
	return res.RowsAffected, translate(res.Error)
}
