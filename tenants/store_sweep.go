package tenants

// SweepStore holds the batched deletes and expiries the periodic workers run
// (DESIGN §7). Each method touches at most a bounded number of rows per call.
type SweepStore interface {
}
