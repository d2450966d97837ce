package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// streamRegistry knows the open streams of each grant, so a revocation
// notice can cut them.
type streamRegistry struct {
	mu   sync.Mutex
	open map[string]map[*reqState]struct{}
}

func (s *streamRegistry) add(key string, st *reqState) {
	s.mu.Lock()
	if s.open[key] == nil {
		s.open[key] = map[*reqState]struct{}{}
	}
	s.open[key][st] = struct{}{}
	s.mu.Unlock()
}

func (s *streamRegistry) remove(key string, st *reqState) {
	s.mu.Lock()
	delete(s.open[key], st)
	if len(s.open[key]) == 0 {
		delete(s.open, key)
	}
	s.mu.Unlock()
}

// cut closes every open stream of a grant; payload is "<tenant_id> <grant_id>".
func (s *streamRegistry) cut(payload string) {
	s.mu.Lock()
	var sts []*reqState
	for st := range s.open[payload] {
		sts = append(sts, st)
	}
	s.mu.Unlock()
	for _, st := range sts {
		st.cancel(errRevoked)
	}
}

// watch registers an open stream and re-checks its grant every liveness
// TTL (the fallback when a revocation notice is lost). It returns the stop
// function. The re-check is a timer, not a goroutine per stream: an idle
// stream costs memory, and a goroutine's stack is most of what it would add.
func (g *Gateway) watch(st *reqState) func() {
	key := st.site.Tenant.ID + " " + st.p.Claims.GrantID
	g.streams.add(key, st)
	if g.draining() {
		g.drainStream(st)
	}
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	var check func()
	check = func() {
		live, err := g.verifier.GrantLive(context.Background(), st.site.Tenant.ID, st.p.Claims.GrantID)
		if err == nil && !live {
			st.cancel(errRevoked)
			return
		}
		mu.Lock()
		if !stopped {
			timer = time.AfterFunc(g.verifier.TTL(), check)
		}
		mu.Unlock()
	}
	mu.Lock()
	timer = time.AfterFunc(g.verifier.TTL(), check)
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			stopped = true
			timer.Stop()
			mu.Unlock()
			g.streams.remove(key, st)
		})
	}
}

// idleBody cancels the upstream request when no byte arrived for idle.
type idleBody struct {
	io.ReadCloser
	idle    time.Duration
	timer   *time.Timer
	onClose func()
	once    sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		if b.onClose != nil {
			b.onClose()
		}
	})
	return b.ReadCloser.Close()
}

// drainer ends open streams when the replica shuts down.
type drainer struct {
	grace time.Duration
	mu    sync.Mutex
	on    bool
}

// Drain starts the shutdown policy: GET streams end now, streams answering
// a request get the grace period. Streams that open later follow the same
// policy at once.
func (g *Gateway) Drain() {
	g.drain.mu.Lock()
	g.drain.on = true
	g.drain.mu.Unlock()
	for _, st := range g.streams.all() {
		g.drainStream(st)
	}
}

func (g *Gateway) draining() bool {
	g.drain.mu.Lock()
	defer g.drain.mu.Unlock()
	return g.drain.on
}

func (g *Gateway) drainStream(st *reqState) {
	if st.method == http.MethodGet {
		st.cancel(errDraining)
		return
	}
	time.AfterFunc(g.drain.grace, func() { st.cancel(errDraining) })
}

func (s *streamRegistry) all() []*reqState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*reqState
	for _, m := range s.open {
		for st := range m {
			out = append(out, st)
		}
	}
	return out
}
