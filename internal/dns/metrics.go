package dns

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus series, shaped like CoreDNS's
// (coredns_dns_requests_total, ..._request_duration_seconds,
// coredns_cache_hits_total) under the svcnet_dns_ prefix.
type metrics struct {
	requests      *prometheus.CounterVec
	responses     *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	cacheHits     *prometheus.CounterVec
	cacheMisses   prometheus.Counter
	forwardErrors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcnet_dns_requests_total",
			Help: "DNS requests by transport, address family, query type and zone.",
		}, []string{"proto", "family", "type", "zone"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcnet_dns_responses_total",
			Help: "DNS responses by rcode and zone.",
		}, []string{"rcode", "zone"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "svcnet_dns_request_duration_seconds",
			Help: "Time to answer a DNS request, by query type and zone.",
			// 0.25ms to 8s, as CoreDNS's buckets.
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16),
		}, []string{"type", "zone"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "svcnet_dns_cache_hits_total",
			Help: "Forwarded questions answered from the cache, by success or denial.",
		}, []string{"type"}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svcnet_dns_cache_misses_total",
			Help: "Forwarded questions not found in the cache.",
		}),
		forwardErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "svcnet_dns_forward_failures_total",
			Help: "Forwarded questions no upstream answered.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.responses, m.duration, m.cacheHits, m.cacheMisses, m.forwardErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// typeLabel keeps the type label's cardinality bounded.
func typeLabel(t uint16) string {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSRV, dns.TypePTR, dns.TypeCNAME, dns.TypeTXT,
		dns.TypeSOA, dns.TypeNS, dns.TypeMX, dns.TypeANY, dns.TypeHTTPS, dns.TypeSVCB:
		return dns.TypeToString[t]
	}
	return "other"
}
