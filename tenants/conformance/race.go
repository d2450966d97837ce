package conformance

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// errLost is what a use that reports losing by a false result returns.
var errLost = errors.New("lost the race")

// onlyOneWins runs use n times at once and fails t unless exactly one run
// won (returned nil) and every other lost with one of the errors the
// store's contract names for a loser (lost; errLost always counts).
func onlyOneWins(t *testing.T, what string, n int, use func(i int) error, lost ...error) {
	t.Helper()
	var wins, losses atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := use(i)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, errLost):
				losses.Add(1)
			default:
				for _, l := range lost {
					if errors.Is(err, l) {
						losses.Add(1)
						return
					}
				}
				t.Errorf("%s: unexpected error: %v", what, err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || int(losses.Load()) != n-1 {
		t.Fatalf("%d concurrent %s: %d won, %d lost; want 1 and %d", n, what, wins.Load(), losses.Load(), n-1)
	}
}
