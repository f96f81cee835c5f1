package observability_test

import (
	"context"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"
)

// memStorage is the smallest storage.Queryable the PromQL engine can query: float samples in
// memory, appended scrape by scrape. (Prometheus's own teststorage is a TSDB, whose package
// links the remote-write clients of three clouds; this keeps the test's build to the engine.)
type memStorage struct {
	mu     sync.Mutex
	series map[string]*memSeries
}

type memSeries struct {
	lset    labels.Labels
	samples []chunks.Sample
}

type floatSample struct {
	t int64
	f float64
}

func (s floatSample) T() int64                      { return s.t }
func (s floatSample) ST() int64                     { return 0 }
func (s floatSample) F() float64                    { return s.f }
func (s floatSample) H() *histogram.Histogram       { return nil }
func (s floatSample) FH() *histogram.FloatHistogram { return nil }
func (s floatSample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s floatSample) Copy() chunks.Sample           { return s }

func newMemStorage() *memStorage { return &memStorage{series: map[string]*memSeries{}} }

func (m *memStorage) add(lset labels.Labels, t time.Time, v float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := lset.String()
	s, ok := m.series[key]
	if !ok {
		s = &memSeries{lset: lset}
		m.series[key] = s
	}
	s.samples = append(s.samples, floatSample{t: t.UnixMilli(), f: v})
}

// addScrape stores the families of one scrape as Prometheus would: each sample with the
// target's labels, a histogram as its _bucket (with le), _sum and _count series.
func (m *memStorage) addScrape(families map[string]*dto.MetricFamily, target labels.Labels, t time.Time) {
	for name, mf := range families {
		for _, metric := range mf.GetMetric() {
			b := labels.NewBuilder(target)
			for _, lp := range metric.GetLabel() {
				b.Set(lp.GetName(), lp.GetValue())
			}
			series := func(n string, extra ...string) labels.Labels {
				sb := labels.NewBuilder(b.Labels())
				sb.Set(labels.MetricName, n)
				for i := 0; i+1 < len(extra); i += 2 {
					sb.Set(extra[i], extra[i+1])
				}
				return sb.Labels()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				m.add(series(name), t, metric.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				m.add(series(name), t, metric.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				m.add(series(name), t, metric.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := metric.GetHistogram()
				for _, bk := range h.GetBucket() {
					m.add(series(name+"_bucket", "le", formatLe(bk.GetUpperBound())), t, float64(bk.GetCumulativeCount()))
				}
				m.add(series(name+"_bucket", "le", "+Inf"), t, float64(h.GetSampleCount()))
				m.add(series(name+"_sum"), t, h.GetSampleSum())
				m.add(series(name+"_count"), t, float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := metric.GetSummary()
				for _, q := range s.GetQuantile() {
					m.add(series(name, "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)), t, q.GetValue())
				}
				m.add(series(name+"_sum"), t, s.GetSampleSum())
				m.add(series(name+"_count"), t, float64(s.GetSampleCount()))
			}
		}
	}
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func (m *memStorage) Querier(int64, int64) (storage.Querier, error) { return m, nil }

func (m *memStorage) Select(_ context.Context, _ bool, _ *storage.SelectHints, matchers ...*labels.Matcher) storage.SeriesSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []storage.Series
	for _, s := range m.series {
		if matchesAll(s.lset, matchers) {
			out = append(out, storage.NewListSeries(s.lset, slices.Clone(s.samples)))
		}
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &seriesSet{series: out, i: -1}
}

func matchesAll(lset labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(lset.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (m *memStorage) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m *memStorage) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (m *memStorage) Close() error { return nil }

type seriesSet struct {
	series []storage.Series
	i      int
}

func (s *seriesSet) Next() bool                        { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series                { return s.series[s.i] }
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
