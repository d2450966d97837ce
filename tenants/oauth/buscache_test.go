package oauth

import (
	"fmt"
	"testing"
	"time"
)

// At its bound a busCache drops one entry for the next, not all of them:
// a working set just past the bound still hits (10,000 tenants' metadata
// documents once emptied a cache of 10,000 every few requests).
func TestBusCacheBoundEvictsOne(t *testing.T) {
	c := newBusCache[int, string](time.Minute)
	c.max = 4
	now := time.Now()
	reads := 0
	get := func(k int) string {
		v, _ := c.get(k, now, nil, func() (string, error) { reads++; return fmt.Sprint(k), nil })
		return v
	}
	for k := 0; k < 5; k++ {
		if get(k) != fmt.Sprint(k) {
			t.Fatal("wrong value")
		}
	}
	if len(c.entries) != 4 || reads != 5 {
		t.Fatalf("%d entries after 5 keys (bound 4), %d reads", len(c.entries), reads)
	}
	kept := 0
	for k := 0; k < 4; k++ {
		if _, ok := c.entries[k]; ok {
			kept++
		}
	}
	if _, ok := c.entries[4]; !ok || kept != 3 {
		t.Fatalf("the newest entry and 3 of the 4 before it stay: newest %v, %d kept", ok, kept)
	}
	get(4)
	if reads != 5 {
		t.Fatalf("a cached key was read again (%d reads)", reads)
	}
	if len(c.entries) != 4 {
		t.Fatalf("%d entries, bound 4", len(c.entries))
	}
}
