package admin

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TenantLabel is the label that names a tenant (its slug) on metrics.
const TenantLabel = "tenant"

// TenantSeries keeps the tenant label bounded: it is the Registerer for
// collectors labelled by tenant, remembers their vectors, and deletes a
// tenant's series once the tenant no longer exists (Prune), so a deployment
// that creates and deletes tenants does not grow its series forever.
type TenantSeries struct {
	prometheus.Registerer
	mu   sync.Mutex
	vecs []partialDeleter
}

type partialDeleter interface {
	DeletePartialMatch(prometheus.Labels) int
}

// NewTenantSeries wraps reg.
func NewTenantSeries(reg prometheus.Registerer) *TenantSeries {
	return &TenantSeries{Registerer: reg}
}

// Register registers c and remembers it when it is a vector.
func (t *TenantSeries) Register(c prometheus.Collector) error {
	if err := t.Registerer.Register(c); err != nil {
		return err
	}
	if d, ok := c.(partialDeleter); ok {
		t.mu.Lock()
		t.vecs = append(t.vecs, d)
		t.mu.Unlock()
	}
	return nil
}

// MustRegister registers each collector or panics, as prometheus does.
func (t *TenantSeries) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

// Forget deletes every series of the tenant slug; it returns how many.
func (t *TenantSeries) Forget(slug string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, v := range t.vecs {
		n += v.DeletePartialMatch(prometheus.Labels{TenantLabel: slug})
	}
	return n
}

// Prune forgets the series of every tenant label value in g for which
// exists answers false. It runs on the tenant-changed bus notice (a delete
// on any replica) and periodically (a lost notice).
func (t *TenantSeries) Prune(ctx context.Context, g prometheus.Gatherer, exists func(context.Context, string) (bool, error)) (int, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	slugs := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == TenantLabel {
					slugs[l.GetValue()] = true
				}
			}
		}
	}
	n := 0
	for slug := range slugs {
		ok, err := exists(ctx, slug)
		if err != nil {
			return n, err
		}
		if !ok {
			n += t.Forget(slug)
		}
	}
	return n, nil
}

// WithoutLabel returns a Gatherer that removes label from every series and
// adds up the series that then coincide (counters, gauges, untyped values
// and histograms; summaries keep their first series). With
// GATEHOUSE_METRICS_TENANT_LABEL=false it bounds what a scrape returns to
// one series per label set whatever the number of tenants.
func WithoutLabel(g prometheus.Gatherer, label string) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		for _, mf := range mfs {
			mf.Metric = mergeWithout(mf.GetMetric(), label)
		}
		return mfs, err
	})
}

func mergeWithout(ms []*dto.Metric, label string) []*dto.Metric {
	var out []*dto.Metric
	byKey := map[string]*dto.Metric{}
	for _, m := range ms {
		kept := m.Label[:0:0]
		for _, l := range m.GetLabel() {
			if l.GetName() != label {
				kept = append(kept, l)
			}
		}
		if len(kept) == len(m.GetLabel()) {
			out = append(out, m)
			continue
		}
		m.Label = kept
		parts := make([]string, 0, len(kept))
		for _, l := range kept {
			parts = append(parts, l.GetName()+"\xff"+l.GetValue())
		}
		sort.Strings(parts)
		key := strings.Join(parts, "\xfe")
		acc, ok := byKey[key]
		if !ok {
			byKey[key] = m
			out = append(out, m)
			continue
		}
		addInto(acc, m)
	}
	return out
}

func addInto(acc, m *dto.Metric) {
	switch {
	case acc.Counter != nil && m.Counter != nil:
		acc.Counter.Value = ptr(acc.Counter.GetValue() + m.Counter.GetValue())
	case acc.Gauge != nil && m.Gauge != nil:
		acc.Gauge.Value = ptr(acc.Gauge.GetValue() + m.Gauge.GetValue())
	case acc.Untyped != nil && m.Untyped != nil:
		acc.Untyped.Value = ptr(acc.Untyped.GetValue() + m.Untyped.GetValue())
	case acc.Histogram != nil && m.Histogram != nil:
		h, o := acc.Histogram, m.Histogram
		h.SampleCount = ptr(h.GetSampleCount() + o.GetSampleCount())
		h.SampleSum = ptr(h.GetSampleSum() + o.GetSampleSum())
		for i := range h.Bucket {
			if i < len(o.Bucket) && h.Bucket[i].GetUpperBound() == o.Bucket[i].GetUpperBound() {
				h.Bucket[i].CumulativeCount = ptr(h.Bucket[i].GetCumulativeCount() + o.Bucket[i].GetCumulativeCount())
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }
