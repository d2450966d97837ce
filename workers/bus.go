package workers

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBus carries cross-replica notices (grant revoked, tenant changed, keys
// rotated) over Redis pub/sub. Consumers also keep short cache TTLs, so a
// lost notice delays an invalidation, never loses it.
type RedisBus struct {
	client redis.UniversalClient
	prefix string
	logger *slog.Logger

	mu       sync.Mutex
	handlers map[string][]func(string)
	started  bool
	cancel   context.CancelFunc
}

// BusChannelPrefix is one deployment's pub/sub channel prefix. Redis
// pub/sub ignores DB numbers — every client of a server hears every
// channel — so deployments sharing one Redis server (each on its own DB, as
// their queues require) would drop each other's cached tenants and grants.
// The channel therefore carries the DB number, after keyPrefix (the
// operator's GATEHOUSE_REDIS_PREFIX plus ":", or "") for deployments that
// share a DB too, as on a Cluster.
func BusChannelPrefix(keyPrefix string, db int) string {
	return keyPrefix + "gatehouse:bus:" + strconv.Itoa(db) + ":"
}

// NewRedisBus returns a bus on client; channels are prefix+topic.
func NewRedisBus(client redis.UniversalClient, prefix string, logger *slog.Logger) *RedisBus {
	return &RedisBus{client: client, prefix: prefix, logger: logger, handlers: map[string][]func(string){}}
}

// Publish sends payload to every subscriber of topic, on every replica.
func (b *RedisBus) Publish(ctx context.Context, topic, payload string) error {
	return b.client.Publish(ctx, b.prefix+topic, payload).Err()
}

// Subscribe registers fn for topic. Call before Start.
func (b *RedisBus) Subscribe(topic string, fn func(payload string)) {
	b.mu.Lock()
	b.handlers[topic] = append(b.handlers[topic], fn)
	b.mu.Unlock()
}

// Start listens until ctx ends, reconnecting after failures.
func (b *RedisBus) Start(ctx context.Context) {
	b.mu.Lock()
	if b.started {
		b.mu.Unlock()
		return
	}
	b.started = true
	ctx, b.cancel = context.WithCancel(ctx)
	b.mu.Unlock()
	go func() {
		for ctx.Err() == nil {
			b.listen(ctx)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
}

func (b *RedisBus) listen(ctx context.Context) {
	b.mu.Lock()
	var chans []string
	for t := range b.handlers {
		chans = append(chans, b.prefix+t)
	}
	b.mu.Unlock()
	if len(chans) == 0 {
		<-ctx.Done()
		return
	}
	ps := b.client.Subscribe(ctx, chans...)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		if ctx.Err() == nil && b.logger != nil {
			b.logger.Warn("bus subscribe failed; retrying", "err", err)
		}
		return
	}
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			topic := m.Channel[len(b.prefix):]
			b.mu.Lock()
			hs := append([]func(string){}, b.handlers[topic]...)
			b.mu.Unlock()
			for _, h := range hs {
				h(m.Payload)
			}
		}
	}
}

// Stop ends listening.
func (b *RedisBus) Stop() {
	b.mu.Lock()
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Unlock()
}
