package forward

import (
	"container/list"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// cacheKey identifies a cached answer: the lowercase question and the
// DNSSEC OK bit, which changes what upstreams put in answers.
type cacheKey struct {
	name  string
	qtype uint16
	class uint16
	do    bool
}

type cacheEntry struct {
	key     cacheKey
	msg     *dns.Msg
	stored  time.Time
	expires time.Time
}

// cache is a bounded LRU of upstream answers, each kept for the TTL the
// answer itself allows.
type cache struct {
	size   int
	maxTTL time.Duration
	negTTL time.Duration
	now    func() time.Time

	mu      sync.Mutex
	entries map[cacheKey]*list.Element
	lru     *list.List // front: most recently used
}

func newCache(size int, maxTTL, negTTL time.Duration, now func() time.Time) *cache {
	return &cache{
		size:    size,
		maxTTL:  maxTTL,
		negTTL:  negTTL,
		now:     now,
		entries: make(map[cacheKey]*list.Element),
		lru:     list.New(),
	}
}

func keyOf(req *dns.Msg) cacheKey {
	q := req.Question[0]
	k := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, class: q.Qclass}
	if opt := req.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}
	return k
}

// get returns a copy of the cached answer for req with its TTLs reduced by
// the time spent in the cache, or nil.
func (c *cache) get(req *dns.Msg) *dns.Msg {
	if c == nil {
		return nil
	}
	k := keyOf(req)
	now := c.now()
	c.mu.Lock()
	el, ok := c.entries[k]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.lru.Remove(el)
		delete(c.entries, k)
		c.mu.Unlock()
		return nil
	}
	c.lru.MoveToFront(el)
	m := e.msg.Copy()
	age := uint32(now.Sub(e.stored) / time.Second)
	c.mu.Unlock()

	m.Id = req.Id
	m.Question = []dns.Question{req.Question[0]} // the asker's spelling
	for _, sec := range [][]dns.RR{m.Answer, m.Ns, m.Extra} {
		for _, rr := range sec {
			h := rr.Header()
			if h.Rrtype == dns.TypeOPT {
				continue
			}
			if h.Ttl > age {
				h.Ttl -= age
			} else {
				h.Ttl = 0
			}
		}
	}
	return m
}

// put stores a successful or NXDOMAIN/NODATA answer for as long as its
// records allow (RFC 2308 for negative answers), capped by maxTTL and
// negTTL. Other answers, and answers with a zero TTL, are not cached.
func (c *cache) put(req, resp *dns.Msg) {
	if c == nil || resp.Truncated {
		return
	}
	ttl, ok := c.ttlOf(resp)
	if !ok || ttl <= 0 {
		return
	}
	k := keyOf(req)
	now := c.now()
	e := &cacheEntry{key: k, msg: resp.Copy(), stored: now, expires: now.Add(ttl)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.entries[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.size {
		last := c.lru.Back()
		c.lru.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// ttlOf returns how long resp may be cached.
func (c *cache) ttlOf(resp *dns.Msg) (time.Duration, bool) {
	switch {
	case resp.Rcode == dns.RcodeSuccess && len(resp.Answer) > 0:
		ttl := minTTL(resp.Answer)
		return min(time.Duration(ttl)*time.Second, c.maxTTL), true
	case resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError:
		// Negative answer: the SOA's TTL bounded by its minimum field.
		for _, rr := range resp.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl := min(soa.Hdr.Ttl, soa.Minttl)
				return min(time.Duration(ttl)*time.Second, c.negTTL), true
			}
		}
		return 0, false // no SOA: RFC 2308 says do not cache
	}
	return 0, false
}

func minTTL(rrs []dns.RR) uint32 {
	ttl := ^uint32(0)
	for _, rr := range rrs {
		ttl = min(ttl, rr.Header().Ttl)
	}
	return ttl
}

// len returns the number of cached answers.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
