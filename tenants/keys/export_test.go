package keys

// VerifiedLen is how many verified tokens the tenant's cached key set
// remembers (0 when no key set is cached).
func VerifiedLen(m *Manager, tenantID string) int {
	m.mu.Lock()
	ks := m.cache[tenantID]
	m.mu.Unlock()
	if ks == nil {
		return 0
	}
	return ks.verified.len()
}
