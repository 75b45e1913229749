package kubernetes

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

const (
	// DefaultDomain is the cluster domain when Config.Domain is empty.
	DefaultDomain = "cluster.local"
	// DefaultTTL is the TTL of every answer when Config.TTL is zero. It is
	// CoreDNS's kubernetes plugin default: short, so clients follow
	// endpoint changes quickly.
	DefaultTTL = 5
	// SchemaVersion is the Kubernetes DNS specification version answered
	// for dns-version.<domain> TXT.
	SchemaVersion = "1.1.0"
	// versionTTL is the TTL of the dns-version TXT record (as CoreDNS).
	versionTTL = 28800
	// maxSOATTL caps the SOA record's own TTL, as CoreDNS does.
	maxSOATTL = 300
	// maxChase bounds how many in-cluster CNAMEs one answer follows.
	maxChase = 8
)

// Config configures a Zone.
type Config struct {
	// Informers provides the Service, EndpointSlice and Namespace
	// informers; the caller starts the factory after New.
	Informers informers.SharedInformerFactory
	// Domain is the cluster domain, DefaultDomain when empty.
	Domain string
	// TTL of answers in seconds, DefaultTTL when zero.
	TTL uint32
	// Now is the clock behind the SOA serial (time of the last change);
	// time.Now when nil.
	Now func() time.Time
	// Logger receives event-handler problems; slog.Default when nil.
	Logger *slog.Logger
}

// Response is an answer from the zone: a DNS rcode and the records of the
// answer, authority and additional sections.
type Response struct {
	Rcode  int
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
}

// Zone answers questions for the cluster domain and for reverse names of
// ClusterIPs and endpoint IPs from an index kept by informer handlers.
type Zone struct {
	origin string // lowercase domain with a trailing dot
	ttl    uint32
	now    func() time.Time
	log    *slog.Logger
	synced []cache.InformerSynced

	mu          sync.RWMutex
	namespaces  map[string]struct{}
	services    map[svcKey]*service
	slices      map[string]*sliceEntry // by "ns/name"
	slicesBySvc map[svcKey]map[string]*sliceEntry
	reverse     map[netip.Addr][]revRef
	serial      uint32
}

// New returns a Zone fed by the Service, EndpointSlice and Namespace
// informers of cfg.Informers. It registers event handlers, so it must be
// called before the factory is started.
func New(cfg Config) (*Zone, error) {
	z := newZone(cfg)
	if cfg.Informers == nil {
		return nil, errors.New("dns zone: no informer factory")
	}
	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{cfg.Informers.Core().V1().Namespaces().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    z.onNamespace,
			UpdateFunc: func(_, obj any) { z.onNamespace(obj) },
			DeleteFunc: z.onNamespaceDelete,
		}},
		{cfg.Informers.Core().V1().Services().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    z.onService,
			UpdateFunc: func(_, obj any) { z.onService(obj) },
			DeleteFunc: z.onServiceDelete,
		}},
		{cfg.Informers.Discovery().V1().EndpointSlices().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    z.onSlice,
			UpdateFunc: func(_, obj any) { z.onSlice(obj) },
			DeleteFunc: z.onSliceDelete,
		}},
	}
	for _, r := range regs {
		reg, err := r.inf.AddEventHandler(r.h)
		if err != nil {
			return nil, fmt.Errorf("dns zone: add event handler: %w", err)
		}
		z.synced = append(z.synced, reg.HasSynced)
	}
	return z, nil
}

func newZone(cfg Config) *Zone {
	domain := strings.Trim(strings.ToLower(cfg.Domain), ".")
	if domain == "" {
		domain = DefaultDomain
	}
	z := &Zone{
		origin:      domain + ".",
		ttl:         cfg.TTL,
		now:         cfg.Now,
		log:         cfg.Logger,
		namespaces:  make(map[string]struct{}),
		services:    make(map[svcKey]*service),
		slices:      make(map[string]*sliceEntry),
		slicesBySvc: make(map[svcKey]map[string]*sliceEntry),
		reverse:     make(map[netip.Addr][]revRef),
	}
	if z.ttl == 0 {
		z.ttl = DefaultTTL
	}
	if z.now == nil {
		z.now = time.Now
	}
	if z.log == nil {
		z.log = slog.Default()
	}
	z.touch()
	return z
}

// Origin returns the cluster domain as a lowercase FQDN ("cluster.local.").
func (z *Zone) Origin() string { return z.origin }

// HasSynced reports whether every informer's initial list has reached the
// index.
func (z *Zone) HasSynced() bool {
	for _, s := range z.synced {
		if !s() {
			return false
		}
	}
	return true
}

// InZone reports whether name (any case) is the cluster domain or under it.
func (z *Zone) InZone(name string) bool {
	return z.inZone(strings.ToLower(ensureFQDN(name)))
}

func (z *Zone) inZone(name string) bool {
	return name == z.origin || strings.HasSuffix(name, "."+z.origin)
}

func (z *Zone) onNamespace(obj any) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		z.log.Warn("Ignored unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	name := strings.ToLower(ns.Name)
	if _, ok := z.namespaces[name]; !ok {
		z.namespaces[name] = struct{}{}
		z.touch()
	}
}

func (z *Zone) onNamespaceDelete(obj any) {
	if ns, ok := unwrap(obj).(*corev1.Namespace); ok {
		z.mu.Lock()
		defer z.mu.Unlock()
		delete(z.namespaces, strings.ToLower(ns.Name))
		z.touch()
	}
}

func (z *Zone) onService(obj any) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		z.log.Warn("Ignored unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.upsertService(s)
}

func (z *Zone) onServiceDelete(obj any) {
	if s, ok := unwrap(obj).(*corev1.Service); ok {
		z.mu.Lock()
		defer z.mu.Unlock()
		z.deleteService(s.Namespace, s.Name)
	}
}

func (z *Zone) onSlice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		z.log.Warn("Ignored unexpected object", "type", fmt.Sprintf("%T", obj))
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.upsertSlice(s)
}

func (z *Zone) onSliceDelete(obj any) {
	if s, ok := unwrap(obj).(*discoveryv1.EndpointSlice); ok {
		z.mu.Lock()
		defer z.mu.Unlock()
		z.deleteSlice(s.Namespace, s.Name)
	}
}

// unwrap returns the last known object of a delete seen only after a
// relist.
func unwrap(obj any) any {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return d.Obj
	}
	return obj
}
