package service

import (
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/allocator/ipallocator"
	"github.com/svcnet/svcnet/internal/allocator/portallocator"
)

func ptr[T any](v T) *T { return &v }

// keysOf lists the reservation keys owned by the service name.
func keysOf(h *harness, name string) []string {
	var out []string
	for k, owner := range h.store.reservations() {
		if owner == key(name) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func wantKeys(s *corev1.Service) []string {
	keys := HeldKeys(s)
	sort.Strings(keys)
	return keys
}

func TestCreateClusterIP(t *testing.T) {
	h := newHarness(t)
	out := h.mustCreate(svc("web", corev1.ServiceTypeClusterIP))
	ip, err := netip.ParseAddr(out.Spec.ClusterIP)
	if err != nil {
		t.Fatalf("clusterIP %q: %v", out.Spec.ClusterIP, err)
	}
	if !h.ips[0].CIDR().Contains(ip) || ip.Less(h.ips[0].StaticBandEnd()) {
		t.Errorf("got %v, want an address of the dynamic band of %v", ip, h.ips[0].CIDR())
	}
	if diff := cmp.Diff([]string{out.Spec.ClusterIP}, out.Spec.ClusterIPs); diff != "" {
		t.Errorf("clusterIPs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.IPFamily{corev1.IPv4Protocol}, out.Spec.IPFamilies); diff != "" {
		t.Errorf("ipFamilies (-want +got):\n%s", diff)
	}
	if got := policyOf(out); got != corev1.IPFamilyPolicySingleStack {
		t.Errorf("ipFamilyPolicy: got %q, want SingleStack", got)
	}
	if diff := cmp.Diff([]string{ipallocator.Key(ip)}, keysOf(h, "web")); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}
	if !h.ips[0].Has(ip) {
		t.Errorf("bitmap: got free, want used")
	}
}

func TestCreateRequestedIP(t *testing.T) {
	h := newHarness(t)
	out := h.mustCreate(svc("dns", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "10.96.0.10" }))
	if out.Spec.ClusterIP != "10.96.0.10" {
		t.Fatalf("got %q, want 10.96.0.10", out.Spec.ClusterIP)
	}
	tests := []struct {
		name string
		ip   string
		want string
	}{
		{name: "taken", ip: "10.96.0.10",
			want: `Service "other" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated`},
		{name: "out of range", ip: "10.0.0.5",
			want: `Service "other" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{name: "network address", ip: "10.96.0.0",
			want: `Service "other" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.0"]: failed to allocate IP 10.96.0.0: the provided IP (10.96.0.0) is not in the valid range. The range of valid IPs is 10.96.0.0/12`},
		{name: "IPv6 on an IPv4 cluster", ip: "fd00::5",
			want: `Service "other" is invalid: spec.clusterIPs[0]: Invalid value: ["fd00::5"]: IPv6 is not configured on this cluster`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.create(svc("other", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = tc.ip }))
			if !apierrors.IsInvalid(err) {
				t.Fatalf("got %v, want a 422", err)
			}
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestDynamicConflictRetries(t *testing.T) {
	// The bitmap does not know about an address another server reserved:
	// the write conflicts and is retried with another candidate.
	h := newHarness(t, "10.0.0.0/29") // 6 addresses, no static band
	h.hooks.synced.Store(true)        // keep the stale bitmap
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"} {
		if err := h.store.Reserve(t.Context(), ipallocator.Key(netip.MustParseAddr(ip)), "/elsewhere"); err != nil {
			t.Fatal(err)
		}
	}
	out := h.mustCreate(svc("web", corev1.ServiceTypeClusterIP))
	if out.Spec.ClusterIP != "10.0.0.6" {
		t.Errorf("got %q, want the only free address 10.0.0.6", out.Spec.ClusterIP)
	}
	_, err := h.create(svc("full", corev1.ServiceTypeClusterIP))
	if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "failed to allocate a serviceIP: range is full") {
		t.Errorf("got %v, want a 500 about a full range", err)
	}
}

func TestCreateNodePort(t *testing.T) {
	h := newHarness(t)
	out := h.mustCreate(svc("np", corev1.ServiceTypeNodePort, func(s *corev1.Service) {
		s.Spec.Ports = []corev1.ServicePort{
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
			{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			{Name: "http", Port: 80, NodePort: 30080},
		}
	}))
	p := out.Spec.Ports
	if p[0].NodePort == 0 || p[0].NodePort != p[1].NodePort {
		t.Errorf("same port number: got nodePorts %d and %d, want one shared nodePort", p[0].NodePort, p[1].NodePort)
	}
	if p[0].NodePort < 30086 {
		t.Errorf("got %d, want a nodePort of the dynamic band", p[0].NodePort)
	}
	if p[2].NodePort != 30080 {
		t.Errorf("got %d, want the requested 30080", p[2].NodePort)
	}
	if out.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
		t.Errorf("externalTrafficPolicy: got %q, want Cluster", out.Spec.ExternalTrafficPolicy)
	}
	if diff := cmp.Diff(wantKeys(out), keysOf(h, "np")); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}
	if got := len(keysOf(h, "np")); got != 3 {
		t.Errorf("got %d keys, want 3 (one IP, two ports)", got)
	}

	tests := []struct {
		name string
		port int32
		want string
	}{
		{name: "taken", port: 30080,
			want: `Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`},
		{name: "out of range", port: 8080,
			want: `Service "other" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.create(svc("other", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = tc.port }))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			if len(keysOf(h, "other")) != 0 {
				t.Errorf("failed create left reservations %v", keysOf(h, "other"))
			}
		})
	}
}

func TestCreateLoadBalancer(t *testing.T) {
	h := newHarness(t)
	out := h.mustCreate(svc("lb", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}))
	if out.Spec.HealthCheckNodePort == 0 || out.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("got healthCheckNodePort %d, nodePort %d, want both allocated", out.Spec.HealthCheckNodePort, out.Spec.Ports[0].NodePort)
	}
	if out.Spec.HealthCheckNodePort == out.Spec.Ports[0].NodePort {
		t.Errorf("healthCheckNodePort equals the nodePort")
	}
	if diff := cmp.Diff(wantKeys(out), keysOf(h, "lb")); diff != "" {
		t.Errorf("reservations (-want +got):\n%s", diff)
	}

	noPorts := h.mustCreate(svc("lb2", corev1.ServiceTypeLoadBalancer, func(s *corev1.Service) {
		s.Spec.AllocateLoadBalancerNodePorts = ptr(false)
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 81, NodePort: 31081})
		s.Spec.Ports[0].Name = "a"
	}))
	if noPorts.Spec.Ports[0].NodePort != 0 || noPorts.Spec.Ports[1].NodePort != 31081 {
		t.Errorf("allocateLoadBalancerNodePorts=false: got nodePorts %d/%d, want 0/31081",
			noPorts.Spec.Ports[0].NodePort, noPorts.Spec.Ports[1].NodePort)
	}
}

func TestCreateWithoutIP(t *testing.T) {
	h := newHarness(t)
	headless := h.mustCreate(svc("headless", corev1.ServiceTypeClusterIP, func(s *corev1.Service) { s.Spec.ClusterIP = "None" }))
	if diff := cmp.Diff([]string{"None"}, headless.Spec.ClusterIPs); diff != "" {
		t.Errorf("headless clusterIPs (-want +got):\n%s", diff)
	}
	if len(keysOf(h, "headless")) != 0 {
		t.Errorf("headless: got reservations %v", keysOf(h, "headless"))
	}
	ext := h.mustCreate(&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
		ObjectMeta: svc("ext", "").ObjectMeta})
	if ext.Spec.ClusterIP != "" || len(ext.Spec.IPFamilies) != 0 || ext.Spec.IPFamilyPolicy != nil {
		t.Errorf("ExternalName: got clusterIP %q families %v policy %v", ext.Spec.ClusterIP, ext.Spec.IPFamilies, ext.Spec.IPFamilyPolicy)
	}
	if len(keysOf(h, "ext")) != 0 {
		t.Errorf("ExternalName: got reservations %v", keysOf(h, "ext"))
	}
	// Headless without selector defaults to RequireDualStack and may name
	// both families even on a single-stack cluster.
	bare := h.mustCreate(svc("bare", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.ClusterIP = "None"
		s.Spec.Selector = nil
	}))
	if got := policyOf(bare); got != corev1.IPFamilyPolicyRequireDualStack {
		t.Errorf("headless without selector: got policy %q, want RequireDualStack", got)
	}
	if diff := cmp.Diff([]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, bare.Spec.IPFamilies); diff != "" {
		t.Errorf("headless without selector families (-want +got):\n%s", diff)
	}
}

func TestTypeTransitions(t *testing.T) {
	h := newHarness(t)
	np := h.mustCreate(svc("web", corev1.ServiceTypeNodePort))
	ipKey := ipallocator.Key(netip.MustParseAddr(np.Spec.ClusterIP))
	portKey := portallocator.Key(int(np.Spec.Ports[0].NodePort))

	// NodePort -> ClusterIP releases the nodePort, keeps the IP.
	toCIP := np.DeepCopy()
	toCIP.Spec.Type = corev1.ServiceTypeClusterIP
	cip := h.mustUpdate(toCIP)
	if cip.Spec.Ports[0].NodePort != 0 || cip.Spec.ExternalTrafficPolicy != "" {
		t.Errorf("NodePort->ClusterIP: got nodePort %d, externalTrafficPolicy %q, want both cleared",
			cip.Spec.Ports[0].NodePort, cip.Spec.ExternalTrafficPolicy)
	}
	if diff := cmp.Diff([]string{ipKey}, keysOf(h, "web")); diff != "" {
		t.Errorf("NodePort->ClusterIP reservations (-want +got):\n%s", diff)
	}
	if h.ports.Has(int(np.Spec.Ports[0].NodePort)) {
		t.Errorf("released nodePort still marked in the bitmap")
	}

	// ClusterIP -> LoadBalancer (Local) allocates nodePort and health check port.
	toLB := cip.DeepCopy()
	toLB.Spec.Type = corev1.ServiceTypeLoadBalancer
	toLB.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	lb := h.mustUpdate(toLB)
	if lb.Spec.Ports[0].NodePort == 0 || lb.Spec.HealthCheckNodePort == 0 || lb.Spec.ClusterIP != np.Spec.ClusterIP {
		t.Errorf("ClusterIP->LoadBalancer: got %+v", lb.Spec)
	}
	if diff := cmp.Diff(wantKeys(lb), keysOf(h, "web")); diff != "" {
		t.Errorf("ClusterIP->LoadBalancer reservations (-want +got):\n%s", diff)
	}

	// Removing a port and adding another swaps the nodePorts.
	ports := lb.DeepCopy()
	ports.Spec.Ports = []corev1.ServicePort{{Port: 443}}
	moved := h.mustUpdate(ports)
	if moved.Spec.Ports[0].NodePort == 0 {
		t.Errorf("new port: got no nodePort")
	}
	if diff := cmp.Diff(wantKeys(moved), keysOf(h, "web")); diff != "" {
		t.Errorf("port swap reservations (-want +got):\n%s", diff)
	}

	// LoadBalancer -> ExternalName releases everything.
	toExt := moved.DeepCopy()
	toExt.Spec.Type = corev1.ServiceTypeExternalName
	toExt.Spec.ExternalName = "example.com"
	toExt.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	toExt.Spec.ExternalTrafficPolicy = moved.Spec.ExternalTrafficPolicy
	ext := h.mustUpdate(toExt)
	if ext.Spec.ClusterIP != "" || len(ext.Spec.ClusterIPs) != 0 || ext.Spec.HealthCheckNodePort != 0 || ext.Spec.Ports[0].NodePort != 0 {
		t.Errorf("->ExternalName: got %+v", ext.Spec)
	}
	if got := keysOf(h, "web"); len(got) != 0 {
		t.Errorf("->ExternalName: got reservations %v", got)
	}

	// ExternalName -> ClusterIP allocates a new address.
	back := ext.DeepCopy()
	back.Spec.Type = corev1.ServiceTypeClusterIP
	back.Spec.ExternalName = ""
	again := h.mustUpdate(back)
	if again.Spec.ClusterIP == "" || len(keysOf(h, "web")) != 1 {
		t.Errorf("ExternalName->ClusterIP: got clusterIP %q reservations %v", again.Spec.ClusterIP, keysOf(h, "web"))
	}

	h.delete("web")
	if got := keysOf(h, "web"); len(got) != 0 {
		t.Errorf("delete: got reservations %v", got)
	}
	if h.ips[0].Used() != 0 {
		t.Errorf("delete: bitmap still holds %d addresses", h.ips[0].Used())
	}
	_ = portKey
}

func TestUpdateKeepsAndConflicts(t *testing.T) {
	h := newHarness(t)
	a := h.mustCreate(svc("a", corev1.ServiceTypeNodePort, func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30001 }))
	b := h.mustCreate(svc("b", corev1.ServiceTypeNodePort))

	// An update that changes nothing reserves and releases nothing.
	same := h.mustUpdate(a.DeepCopy())
	if diff := cmp.Diff(wantKeys(same), keysOf(h, "a")); diff != "" {
		t.Errorf("no-op update (-want +got):\n%s", diff)
	}

	steal := b.DeepCopy()
	steal.Spec.Ports[0].NodePort = 30001
	_, err := h.update(steal)
	want := `Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30001: provided port is already allocated`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}

	changeIP := b.DeepCopy()
	changeIP.Spec.ClusterIP, changeIP.Spec.ClusterIPs = "10.96.0.99", []string{"10.96.0.99"}
	_, err = h.update(changeIP)
	want = `Service "b" is invalid: spec.clusterIPs[0]: Invalid value: ["10.96.0.99"]: may not change once set`
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestDualStack(t *testing.T) {
	h := newHarness(t, "10.96.0.0/12", "fd00:10:96::/112")
	single := h.mustCreate(svc("single", corev1.ServiceTypeClusterIP))
	if len(single.Spec.ClusterIPs) != 1 || familyOf(single.Spec.ClusterIP) != corev1.IPv4Protocol {
		t.Errorf("default: got clusterIPs %v, want one IPv4 address", single.Spec.ClusterIPs)
	}
	dual := h.mustCreate(svc("dual", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyPreferDualStack)
	}))
	if diff := cmp.Diff([]corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}, dual.Spec.IPFamilies); diff != "" {
		t.Errorf("PreferDualStack families (-want +got):\n%s", diff)
	}
	if len(dual.Spec.ClusterIPs) != 2 || familyOf(dual.Spec.ClusterIPs[1]) != corev1.IPv6Protocol {
		t.Errorf("PreferDualStack: got clusterIPs %v", dual.Spec.ClusterIPs)
	}
	if got := len(keysOf(h, "dual")); got != 2 {
		t.Errorf("PreferDualStack: got %d reservations, want 2", got)
	}
	v6 := h.mustCreate(svc("v6", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	}))
	if familyOf(v6.Spec.ClusterIP) != corev1.IPv6Protocol {
		t.Errorf("IPv6 only: got %v", v6.Spec.ClusterIPs)
	}

	// Upgrade single -> dual, then downgrade again.
	up := single.DeepCopy()
	up.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
	upgraded := h.mustUpdate(up)
	if len(upgraded.Spec.ClusterIPs) != 2 || upgraded.Spec.ClusterIPs[0] != single.Spec.ClusterIP {
		t.Fatalf("upgrade: got clusterIPs %v", upgraded.Spec.ClusterIPs)
	}
	if got := len(keysOf(h, "single")); got != 2 {
		t.Errorf("upgrade: got %d reservations, want 2", got)
	}
	down := upgraded.DeepCopy()
	down.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
	downgraded := h.mustUpdate(down)
	if len(downgraded.Spec.ClusterIPs) != 1 || len(downgraded.Spec.IPFamilies) != 1 {
		t.Errorf("downgrade: got clusterIPs %v families %v", downgraded.Spec.ClusterIPs, downgraded.Spec.IPFamilies)
	}
	if got := len(keysOf(h, "single")); got != 1 {
		t.Errorf("downgrade: got %d reservations, want 1", got)
	}

	// Dropping the secondary without SingleStack is refused.
	bad := upgraded.DeepCopy()
	_ = h.mustUpdate(func() *corev1.Service {
		u := single.DeepCopy()
		u.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
		return u
	}())
	bad.Spec.ClusterIPs = bad.Spec.ClusterIPs[:1]
	bad.Spec.IPFamilies = bad.Spec.IPFamilies[:1]
	if _, err := h.update(bad); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "spec.ipFamilyPolicy: Invalid value: \"RequireDualStack\": must be set to 'SingleStack' when releasing the secondary clusterIP") {
		t.Errorf("got %v", err)
	}
}

func TestRequireDualStackOnSingleStackCluster(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name string
		mut  func(*corev1.Service)
		want string
	}{
		{name: "RequireDualStack", mut: func(s *corev1.Service) { s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack) },
			want: `Service "x" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services`},
		{name: "IPv6 family", mut: func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} },
			want: `Service "x" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster`},
		{name: "SingleStack with two families", mut: func(s *corev1.Service) {
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicySingleStack)
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
		}, want: `Service "x" is invalid: spec.ipFamilyPolicy: Invalid value: "SingleStack": must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.create(svc("x", corev1.ServiceTypeClusterIP, tc.mut))
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	// PreferDualStack on a single-stack cluster quietly gets one family.
	out := h.mustCreate(svc("prefer", corev1.ServiceTypeClusterIP, func(s *corev1.Service) {
		s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyPreferDualStack)
	}))
	if len(out.Spec.ClusterIPs) != 1 {
		t.Errorf("PreferDualStack: got %v", out.Spec.ClusterIPs)
	}
}

func TestRefreshOnFirstUse(t *testing.T) {
	h := newHarness(t, "10.0.0.0/29")
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"} {
		if err := h.store.Reserve(t.Context(), ipallocator.Key(netip.MustParseAddr(ip)), "/elsewhere"); err != nil {
			t.Fatal(err)
		}
	}
	out := h.mustCreate(svc("web", corev1.ServiceTypeClusterIP))
	if out.Spec.ClusterIP != "10.0.0.6" {
		t.Errorf("got %q, want 10.0.0.6", out.Spec.ClusterIP)
	}
	if h.ips[0].Used() != 6 {
		t.Errorf("bitmap: got %d used, want 6", h.ips[0].Used())
	}
}

func TestDenyExternalIPs(t *testing.T) {
	withEIPs := func(ips ...string) *corev1.Service {
		s := svc("web", corev1.ServiceTypeClusterIP)
		s.Spec.ExternalIPs = ips
		return s
	}
	tests := []struct {
		name     string
		deny     bool
		svc, old *corev1.Service
		want     bool // refused with 403
	}{
		{name: "off", svc: withEIPs("192.0.2.1")},
		{name: "create without", deny: true, svc: withEIPs()},
		{name: "create with", deny: true, svc: withEIPs("192.0.2.1"), want: true},
		{name: "update adding one", deny: true, svc: withEIPs("192.0.2.1", "192.0.2.2"), old: withEIPs("192.0.2.1"), want: true},
		{name: "update keeping them", deny: true, svc: withEIPs("192.0.2.1"), old: withEIPs("192.0.2.1")},
		{name: "update removing one", deny: true, svc: withEIPs("192.0.2.1"), old: withEIPs("192.0.2.1", "192.0.2.2")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &Hooks{denyEIP: tc.deny}
			err := h.admitExternalIPs(tc.svc, tc.old)
			if got := apierrors.IsForbidden(err); got != tc.want {
				t.Fatalf("got %v, want refused %v", err, tc.want)
			}
			if tc.want && !strings.Contains(err.Error(), "Use of external IPs is denied by admission control") {
				t.Errorf("got message %q", err)
			}
		})
	}
}
