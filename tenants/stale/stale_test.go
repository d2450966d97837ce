package stale

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestFreshValueNotReloaded(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[int](Options{TTL: time.Second, MaxStale: time.Minute, Now: clk.now})
	var loads atomic.Int32
	load := func(context.Context) (int, error) { return int(loads.Add(1)), nil }
	for i := 0; i < 3; i++ {
		v, st, err := c.Get(context.Background(), "k", load)
		if err != nil || st || v != 1 {
			t.Fatalf("get %d: v=%d stale=%v err=%v", i, v, st, err)
		}
	}
	clk.add(2 * time.Second)
	if v, _, _ := c.Get(context.Background(), "k", load); v != 2 {
		t.Fatalf("expired value not reloaded: %d", v)
	}
}

func TestServesStaleOnErrorWithinMaxStale(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[string](Options{TTL: time.Second, MaxStale: 10 * time.Second, Now: clk.now})
	ok := func(context.Context) (string, error) { return "good", nil }
	boom := errors.New("db down")
	bad := func(context.Context) (string, error) { return "", boom }
	if _, _, err := c.Get(context.Background(), "k", ok); err != nil {
		t.Fatal(err)
	}
	clk.add(5 * time.Second)
	v, st, err := c.Get(context.Background(), "k", bad)
	if err != nil || !st || v != "good" {
		t.Fatalf("want stale good, got %q stale=%v err=%v", v, st, err)
	}
	clk.add(6 * time.Second) // 11 s old: past MaxStale
	if _, _, err := c.Get(context.Background(), "k", bad); !errors.Is(err, boom) {
		t.Fatalf("past MaxStale the error must surface, got %v", err)
	}
	// A missing key with a failing source is an error, never a zero value.
	if _, _, err := c.Get(context.Background(), "other", bad); !errors.Is(err, boom) {
		t.Fatalf("want error for missing key, got %v", err)
	}
}

func TestSlowSourceBoundedWait(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[string](Options{TTL: time.Second, MaxStale: time.Minute, Wait: 50 * time.Millisecond, Now: clk.now})
	if _, _, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "old", nil }); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Second)
	release := make(chan struct{})
	var loads atomic.Int32
	slow := func(ctx context.Context) (string, error) {
		loads.Add(1)
		<-release
		return "new", nil
	}
	start := time.Now()
	for i := 0; i < 5; i++ {
		v, st, err := c.Get(context.Background(), "k", slow)
		if err != nil || !st || v != "old" {
			t.Fatalf("want stale old, got %q %v %v", v, st, err)
		}
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("5 gets with a hung source took %v; each must wait at most Wait", el)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("concurrent refreshes must share one load, got %d", n)
	}
	close(release)
	deadline := time.Now().Add(2 * time.Second)
	for {
		v, st, _ := c.Get(context.Background(), "k", slow)
		if v == "new" && !st {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("refreshed value never served")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestForgetBeatsInflightLoad(t *testing.T) {
	c := New[string](Options{TTL: time.Minute, MaxStale: time.Minute})
	release := make(chan struct{})
	started := make(chan struct{})
	go func() {
		_, _, _ = c.Get(context.Background(), "g", func(context.Context) (string, error) {
			close(started)
			<-release
			return "live", nil
		})
	}()
	<-started
	c.Forget("g") // revocation notice while the old read is in flight
	close(release)
	time.Sleep(20 * time.Millisecond)
	v, _, err := c.Get(context.Background(), "g", func(context.Context) (string, error) { return "revoked", nil })
	if err != nil || v != "revoked" {
		t.Fatalf("a load begun before Forget was cached or joined: %q %v", v, err)
	}
}

// ExpireAll forces a reload but keeps the old value for when the source
// fails (a change notice during an outage).
func TestExpireAllKeepsStale(t *testing.T) {
	c := New[string](Options{TTL: time.Hour, MaxStale: time.Hour})
	_, _, _ = c.Get(context.Background(), "k", func(context.Context) (string, error) { return "old", nil })
	c.ExpireAll()
	if v, _, _ := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "new", nil }); v != "new" {
		t.Fatalf("ExpireAll did not force a reload: %q", v)
	}
	c.ExpireAll()
	v, st, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "", errors.New("down") })
	if err != nil || !st || v != "new" {
		t.Fatalf("after ExpireAll with the source down: %q %v %v", v, st, err)
	}
}
