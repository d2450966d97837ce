package testdb

import (
	"context"
	"sync"
)

// Bus is an in-process tenants.Bus for tests: Publish calls every
// subscriber of the topic before it returns.
type Bus struct {
	mu   sync.Mutex
	subs map[string][]func(string)
}

// Publish implements tenants.Bus.
func (b *Bus) Publish(_ context.Context, topic, payload string) error {
	b.mu.Lock()
	fns := b.subs[topic]
	b.mu.Unlock()
	for _, fn := range fns {
		fn(payload)
	}
	return nil
}

// Subscribe implements tenants.Bus.
func (b *Bus) Subscribe(topic string, fn func(string)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[string][]func(string){}
	}
	b.subs[topic] = append(b.subs[topic], fn)
}
