package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the proxy's Prometheus metrics, named like kube-proxy's.
type Metrics struct {
	// SyncDuration is kubeproxy_sync_proxy_rules_duration_seconds.
	SyncDuration prometheus.Histogram
	// FullSyncDuration and PartialSyncDuration split SyncDuration by kind.
	FullSyncDuration    prometheus.Histogram
	PartialSyncDuration prometheus.Histogram
	// NetworkProgramming is kubeproxy_network_programming_duration_seconds:
	// from an EndpointSlice's last-change-trigger-time to programmed rules.
	NetworkProgramming prometheus.Histogram
	// LastSync is kubeproxy_sync_proxy_rules_last_timestamp_seconds.
	LastSync prometheus.Gauge
	// SyncErrors counts failed syncs.
	SyncErrors prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg (if non-nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	syncBuckets := prometheus.ExponentialBuckets(0.001, 2, 15)
	var npBuckets []float64
	npBuckets = append(npBuckets, prometheus.LinearBuckets(0.25, 0.25, 2)...)
	npBuckets = append(npBuckets, prometheus.LinearBuckets(1, 1, 59)...)
	npBuckets = append(npBuckets, prometheus.LinearBuckets(60, 5, 12)...)
	npBuckets = append(npBuckets, prometheus.LinearBuckets(120, 30, 7)...)
	m := &Metrics{
		SyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds", Buckets: syncBuckets,
		}),
		FullSyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kubeproxy", Name: "sync_full_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds for full resyncs", Buckets: syncBuckets,
		}),
		PartialSyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kubeproxy", Name: "sync_partial_proxy_rules_duration_seconds",
			Help: "SyncProxyRules latency in seconds for partial resyncs", Buckets: syncBuckets,
		}),
		NetworkProgramming: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "kubeproxy", Name: "network_programming_duration_seconds",
			Help: "In Cluster Network Programming Latency in seconds", Buckets: npBuckets,
		}),
		LastSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "kubeproxy", Name: "sync_proxy_rules_last_timestamp_seconds",
			Help: "The last time proxy rules were successfully synced",
		}),
		SyncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "svcnet", Subsystem: "proxy", Name: "sync_errors_total",
			Help: "Number of failed proxy rule syncs",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.SyncDuration, m.FullSyncDuration, m.PartialSyncDuration, m.NetworkProgramming, m.LastSync, m.SyncErrors)
	}
	return m
}

// NewProcessRegistry returns a registry holding the Go runtime and process
// collectors (go_memstats_*, process_resident_memory_bytes), as
// kube-proxy's /metrics has; the proxy's own metrics join it in New.
func NewProcessRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
