// Package prom is the engine's /metrics: the families of engine/metrics
// as a client_golang registry, with the Go runtime's and the process's
// collectors, served by promhttp. Only notifier-engine links it
// (client_golang's initialisation would cost every in-process run about
// 1 ms: see engine/metrics).
package prom

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"

	"notifier/engine/metrics"
)

// Registry is a metrics.Sink over client_golang collectors.
type Registry struct {
	reg      *prometheus.Registry
	counters map[*metrics.Def]*prometheus.CounterVec
	gauges   map[*metrics.Def]*prometheus.GaugeVec
	histos   map[*metrics.Def]*prometheus.HistogramVec

	mu     sync.Mutex
	gather func(metrics.Sink) // sets the gauges read at scrape time
}

// New makes a registry of every family, and the Go and process
// collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry(), counters: map[*metrics.Def]*prometheus.CounterVec{},
		gauges: map[*metrics.Def]*prometheus.GaugeVec{}, histos: map[*metrics.Def]*prometheus.HistogramVec{}}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, d := range metrics.All {
		switch d.Kind {
		case metrics.Counter:
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: d.Name, Help: d.Help}, d.Labels)
			r.counters[d] = v
			r.reg.MustRegister(v)
		case metrics.Gauge:
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: d.Name, Help: d.Help}, d.Labels)
			r.gauges[d] = v
			r.reg.MustRegister(v)
		case metrics.Histogram:
			v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets}, d.Labels)
			r.histos[d] = v
			r.reg.MustRegister(v)
		}
	}
	return r
}

// Add adds v to a counter.
func (r *Registry) Add(d *metrics.Def, v float64, labels ...string) {
	r.counters[d].WithLabelValues(labels...).Add(v)
}

// Observe adds one observation to a histogram.
func (r *Registry) Observe(d *metrics.Def, v float64, labels ...string) {
	r.histos[d].WithLabelValues(labels...).Observe(v)
}

// Set sets a gauge.
func (r *Registry) Set(d *metrics.Def, v float64, labels ...string) {
	r.gauges[d].WithLabelValues(labels...).Set(v)
}

// Reset drops a gauge family's series.
func (r *Registry) Reset(d *metrics.Def) { r.gauges[d].Reset() }

// GatherWith has each scrape call gather first, to set the gauges read
// then (the spool's, the state's).
func (r *Registry) GatherWith(gather func(metrics.Sink)) {
	r.mu.Lock()
	r.gather = gather
	r.mu.Unlock()
}

// Handler serves the registry in the exposition formats Prometheus
// asks for; scrapes are serialised (each reads the spool and the state
// first).
func (r *Registry) Handler() http.Handler {
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.gather != nil {
			r.gather(r)
		}
		return r.reg.Gather()
	})
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
