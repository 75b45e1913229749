package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

const (
	// DefaultResolvConf is where upstreams are read when none are given.
	DefaultResolvConf = "/etc/resolv.conf"
	// DefaultTimeout bounds one exchange with one upstream.
	DefaultTimeout = 2 * time.Second
	// DefaultCacheSize bounds the number of cached answers (a few MB).
	DefaultCacheSize = 10000
	// DefaultMaxTTL caps how long a positive answer is cached.
	DefaultMaxTTL = time.Hour
	// DefaultNegativeTTL caps how long NXDOMAIN/NODATA is cached, as
	// CoreDNS's cache plugin does for denials.
	DefaultNegativeTTL = 30 * time.Minute
)

// ErrNoUpstreams is returned by New when no usable upstream is configured.
var ErrNoUpstreams = errors.New("no upstream resolvers")

// Config configures a Forwarder.
type Config struct {
	// Upstreams are "host" or "host:port" resolvers, tried in order. When
	// empty the nameservers of ResolvConf are used.
	Upstreams []string
	// ResolvConf is read when Upstreams is empty; DefaultResolvConf when
	// empty.
	ResolvConf string
	// Self lists the addresses the DNS server listens on; loopback
	// upstreams equal to one of them are dropped so queries never loop
	// back to ourselves.
	Self []string
	// Timeout bounds one exchange with one upstream; DefaultTimeout when
	// zero.
	Timeout time.Duration
	// CacheSize bounds the cache; DefaultCacheSize when zero, no cache
	// when negative.
	CacheSize int
	// MaxTTL and NegativeTTL cap cache lifetimes; defaults when zero.
	MaxTTL, NegativeTTL time.Duration
	// Now is the cache's clock; time.Now when nil.
	Now func() time.Time
}

// Forwarder answers questions by asking upstream resolvers.
type Forwarder struct {
	upstreams []string
	timeout   time.Duration
	cache     *cache
	next      atomic.Uint32
}

// New returns a Forwarder over the configured or resolv.conf upstreams.
func New(cfg Config) (*Forwarder, error) {
	ups := cfg.Upstreams
	if len(ups) == 0 {
		path := cfg.ResolvConf
		if path == "" {
			path = DefaultResolvConf
		}
		cc, err := dns.ClientConfigFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("read upstreams: %w", err)
		}
		for _, s := range cc.Servers {
			ups = append(ups, net.JoinHostPort(s, cc.Port))
		}
	}
	f := &Forwarder{timeout: cfg.Timeout}
	if f.timeout <= 0 {
		f.timeout = DefaultTimeout
	}
	for _, u := range ups {
		addr, err := normalize(u)
		if err != nil {
			return nil, err
		}
		if isSelf(addr, cfg.Self) {
			continue
		}
		f.upstreams = append(f.upstreams, addr)
	}
	if len(f.upstreams) == 0 {
		return nil, ErrNoUpstreams
	}
	if cfg.CacheSize >= 0 {
		size, maxTTL, negTTL, now := cfg.CacheSize, cfg.MaxTTL, cfg.NegativeTTL, cfg.Now
		if size == 0 {
			size = DefaultCacheSize
		}
		if maxTTL <= 0 {
			maxTTL = DefaultMaxTTL
		}
		if negTTL <= 0 {
			negTTL = DefaultNegativeTTL
		}
		if now == nil {
			now = time.Now
		}
		f.cache = newCache(size, maxTTL, negTTL, now)
	}
	return f, nil
}

// Upstreams returns the resolvers in use, as "ip:port".
func (f *Forwarder) Upstreams() []string { return append([]string(nil), f.upstreams...) }

// Forward answers req from the cache or from the first upstream that
// answers, retrying over TCP when a UDP answer is truncated. cached reports
// a cache hit. When every upstream fails it returns a SERVFAIL reply and
// the last error.
func (f *Forwarder) Forward(ctx context.Context, req *dns.Msg) (resp *dns.Msg, cached bool, err error) {
	if len(req.Question) != 1 {
		return servfail(req), false, errors.New("forward: want exactly one question")
	}
	if m := f.cache.get(req); m != nil {
		return m, true, nil
	}
	start := int(f.next.Add(1))
	for i := range f.upstreams {
		up := f.upstreams[(start+i)%len(f.upstreams)]
		resp, err = f.exchange(ctx, req, up)
		if err != nil {
			continue
		}
		if resp.Rcode == dns.RcodeServerFailure || resp.Rcode == dns.RcodeRefused {
			err = fmt.Errorf("upstream %s answered %s", up, dns.RcodeToString[resp.Rcode])
			continue
		}
		f.cache.put(req, resp)
		return resp, false, nil
	}
	return servfail(req), false, err
}

// exchange asks one upstream over UDP, then over TCP if the answer was
// truncated.
func (f *Forwarder) exchange(ctx context.Context, req *dns.Msg, up string) (*dns.Msg, error) {
	m := req.Copy()
	m.Id = dns.Id()
	c := &dns.Client{Net: "udp", Timeout: f.timeout, UDPSize: dns.DefaultMsgSize}
	resp, _, err := c.ExchangeContext(ctx, m, up)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, up)
	}
	if err != nil {
		return nil, fmt.Errorf("exchange with %s: %w", up, err)
	}
	resp.Id = req.Id
	return resp, nil
}

// CacheLen returns the number of cached answers.
func (f *Forwarder) CacheLen() int {
	if f.cache == nil {
		return 0
	}
	return f.cache.len()
}

func servfail(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

// normalize turns "host" or "host:port" into "ip:port".
func normalize(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "53"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("upstream %q: not an IP address", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("upstream %q: bad port", s)
	}
	return net.JoinHostPort(ip.String(), port), nil
}

// isSelf reports whether the upstream is a loopback address on which this
// server itself listens.
func isSelf(up string, self []string) bool {
	uh, uport, _ := net.SplitHostPort(up)
	uip, err := netip.ParseAddr(uh)
	if err != nil || !uip.IsLoopback() {
		return false
	}
	for _, s := range self {
		h, p, err := net.SplitHostPort(s)
		if err != nil || p != uport {
			continue
		}
		if h == "" {
			return true
		}
		if ip, err := netip.ParseAddr(h); err == nil && (ip.IsUnspecified() || ip == uip) {
			return true
		}
	}
	return false
}
