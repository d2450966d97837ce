package stale

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/stale/staletest"
)

func TestFreshValueNotReloaded(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1000, 0))
	c := New[int](Options{TTL: time.Second, MaxStale: time.Minute, Now: clk.Now})
	var loads atomic.Int32
	load := func(context.Context) (int, error) { return int(loads.Add(1)), nil }
	for i := 0; i < 3; i++ {
		v, st, err := c.Get(context.Background(), "k", load)
		if err != nil || st || v != 1 {
			t.Fatalf("get %d: v=%d stale=%v err=%v", i, v, st, err)
		}
	}
	clk.Add(2 * time.Second)
	if v, _, _ := c.Get(context.Background(), "k", load); v != 2 {
		t.Fatalf("expired value not reloaded: %d", v)
	}
}

func TestServesStaleOnErrorWithinMaxStale(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1000, 0))
	c := New[string](Options{TTL: time.Second, MaxStale: 10 * time.Second, Now: clk.Now})
	ok := func(context.Context) (string, error) { return "good", nil }
	boom := errors.New("db down")
	bad := func(context.Context) (string, error) { return "", boom }
	if _, _, err := c.Get(context.Background(), "k", ok); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Second)
	v, st, err := c.Get(context.Background(), "k", bad)
	if err != nil || !st || v != "good" {
		t.Fatalf("want stale good, got %q stale=%v err=%v", v, st, err)
	}
	clk.Add(6 * time.Second) // 11 s old: past MaxStale
	if _, _, err := c.Get(context.Background(), "k", bad); !errors.Is(err, boom) {
		t.Fatalf("past MaxStale the error must surface, got %v", err)
	}
	// A missing key with a failing source is an error, never a zero value.
	if _, _, err := c.Get(context.Background(), "other", bad); !errors.Is(err, boom) {
		t.Fatalf("want error for missing key, got %v", err)
	}
}

func TestSlowSourceBoundedWait(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1000, 0))
	c := New[string](Options{TTL: time.Second, MaxStale: time.Minute, Wait: 50 * time.Millisecond, Now: clk.Now})
	if _, _, err := c.Get(context.Background(), "k", func(context.Context) (string, error) { return "old", nil }); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Second)
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

// GetFor keeps each value for the lifetime its source gives; a lifetime of
// zero (no-store) is served and not kept, and a failed load is not kept.
func TestGetForUsesTheValuesOwnLifetime(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1000, 0))
	c := New[int](Options{TTL: time.Hour, Now: clk.Now})
	var loads atomic.Int32
	load := func(ttl time.Duration) func(context.Context) (int, time.Duration, error) {
		return func(context.Context) (int, time.Duration, error) { return int(loads.Add(1)), ttl, nil }
	}
	get := func(key string, ttl time.Duration) int {
		t.Helper()
		v, err := c.GetFor(context.Background(), key, load(ttl))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if get("k", 5*time.Second) != 1 {
		t.Fatal("first load")
	}
	clk.Add(4 * time.Second)
	if v := get("k", 5*time.Second); v != 1 {
		t.Fatalf("within its own lifetime the value was reloaded: %d", v)
	}
	clk.Add(2 * time.Second) // 6 s: past its 5 s, well within the cache's hour
	if v := get("k", 5*time.Second); v != 2 {
		t.Fatalf("past its own lifetime the value was served: %d", v)
	}
	if get("nostore", 0) != 3 || get("nostore", 0) != 4 {
		t.Fatal("a value with no lifetime was kept")
	}
	boom := errors.New("origin down")
	if _, err := c.GetFor(context.Background(), "bad", func(context.Context) (int, time.Duration, error) { return 0, time.Hour, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed load: %v", err)
	}
	if v := get("bad", time.Hour); v != 5 {
		t.Fatalf("a failed load was kept: %d", v)
	}
}

// At MaxEntries the values that can no longer be served go first; only
// when all are fresh is the cache cleared. It never holds more.
func TestEntriesAreBounded(t *testing.T) {
	clk := staletest.NewClock(time.Unix(1000, 0))
	c := New[string](Options{TTL: time.Second, MaxEntries: 3, Now: clk.Now})
	load := func(context.Context) (string, error) { return "v", nil }
	put := func(keys ...string) {
		t.Helper()
		for _, k := range keys {
			if _, _, err := c.Get(context.Background(), k, load); err != nil {
				t.Fatal(err)
			}
			if c.Len() > 3 {
				t.Fatalf("%d entries, bound is 3", c.Len())
			}
		}
	}
	put("a", "b", "c")
	clk.Add(2 * time.Second) // a, b, c are past their TTL (no MaxStale)
	put("d")
	if c.Len() != 1 {
		t.Fatalf("expired values kept: %d entries, want 1", c.Len())
	}
	put("e", "f", "g") // all fresh at the bound: cleared, then g
	if c.Len() != 1 {
		t.Fatalf("%d entries after a full cache of fresh values, want 1", c.Len())
	}
}
