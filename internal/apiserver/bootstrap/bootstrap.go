package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// Namespaces created at start, as kube-apiserver does.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// Config configures the bootstrap component.
type Config struct {
	Client kubernetes.Interface
	// ServiceIP is the kubernetes Service's ClusterIP (first usable IP of
	// the primary service range).
	ServiceIP netip.Addr
	// Address and Port are where clients reach the API server.
	Address netip.Addr
	Port    int32
	// Addresses, when set, returns the addresses of every live API server
	// sharing the cluster (upstream's "lease" endpoint reconciler): the
	// kubernetes Endpoints then list them all instead of Address alone, so
	// several servers do not overwrite each other's address. Addresses of
	// another IP family than Address are left out.
	Addresses func(ctx context.Context) ([]netip.Addr, error)
	// DNSServiceIP, when valid, is the ClusterIP of the kube-system/kube-dns
	// Service the bootstrap keeps (selectorless: each node's DNS server
	// publishes its own EndpointSlice).
	DNSServiceIP netip.Addr
	// ServiceCIDRs are the --service-cluster-ip-range CIDRs, primary first:
	// the spec of the default ServiceCIDR ("kubernetes"). None: no default
	// ServiceCIDR is kept.
	ServiceCIDRs []netip.Prefix
	// Interval between reconciliations (upstream: 10s).
	Interval time.Duration
	Logger   *slog.Logger
}

// Bootstrap reconciles the system objects.
type Bootstrap struct{ cfg Config }

// New returns the component.
func New(cfg Config) (*Bootstrap, error) {
	if cfg.Client == nil || !cfg.ServiceIP.IsValid() || !cfg.Address.IsValid() {
		return nil, fmt.Errorf("bootstrap: client, service IP and address are required")
	}
	if cfg.Interval == 0 {
		cfg.Interval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Bootstrap{cfg: cfg}, nil
}

// Run reconciles at once and then every Interval until ctx is done.
func (b *Bootstrap) Run(ctx context.Context) error {
	t := time.NewTicker(b.cfg.Interval)
	defer t.Stop()
	for {
		if err := b.Reconcile(ctx); err != nil && ctx.Err() == nil {
			b.cfg.Logger.Warn("Reconciled system objects with errors", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Reconcile creates or repairs every system object once. A failing step
// does not hold up the others: above all, the API server addresses (whose
// etcd lease keeps this server in the kubernetes Endpoints) are refreshed
// even while, say, the kube-dns ClusterIP cannot be had.
func (b *Bootstrap) Reconcile(ctx context.Context) error {
	var errs []error
	for _, name := range systemNamespaces {
		errs = append(errs, b.ensureNamespace(ctx, name))
	}
	errs = append(errs, b.ensureServiceCIDR(ctx), b.ensureService(ctx), b.ensureDNSService(ctx))
	// Endpoints may not hold loopback addresses (upstream validation); a
	// server only reachable on loopback publishes none.
	if !b.cfg.Address.IsLoopback() {
		addrs, err := b.addresses(ctx)
		if err == nil {
			errs = append(errs, b.ensureEndpoints(ctx, addrs), b.ensureEndpointSlice(ctx, addrs))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// addresses are the API server addresses to publish, sorted: Address and,
// with Config.Addresses, every other live server's of the same family.
func (b *Bootstrap) addresses(ctx context.Context) ([]netip.Addr, error) {
	addrs := []netip.Addr{b.cfg.Address}
	if b.cfg.Addresses != nil {
		live, err := b.cfg.Addresses(ctx)
		if err != nil {
			return nil, fmt.Errorf("API server addresses: %w", err)
		}
		for _, a := range live {
			if a.Is4() == b.cfg.Address.Is4() && !a.IsLoopback() && !slices.Contains(addrs, a) {
				addrs = append(addrs, a)
			}
		}
	}
	slices.SortFunc(addrs, func(x, y netip.Addr) int { return x.Compare(y) })
	return addrs, nil
}

func (b *Bootstrap) ensureNamespace(ctx context.Context, name string) error {
	_, err := b.cfg.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = b.cfg.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

func (b *Bootstrap) servicePorts() []corev1.ServicePort {
	return []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(b.cfg.Port)}}
}

func (b *Bootstrap) ensureService(ctx context.Context) error {
	svcs := b.cfg.Client.CoreV1().Services(metav1.NamespaceDefault)
	cur, err := svcs.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
				Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeClusterIP, ClusterIP: b.cfg.ServiceIP.String(),
				Ports: b.servicePorts(), SessionAffinity: corev1.ServiceAffinityNone,
			},
		}
		_, err = svcs.Create(ctx, svc, metav1.CreateOptions{FieldManager: "svcnet-bootstrap"})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("service default/kubernetes: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("service default/kubernetes: %w", err)
	}
	if apiequality.Semantic.DeepEqual(cur.Spec.Ports, b.servicePorts()) {
		return nil
	}
	cur.Spec.Ports = b.servicePorts()
	_, err = svcs.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "svcnet-bootstrap"})
	return err
}

// ensureDNSService creates kube-system/kube-dns as kubeadm's CoreDNS
// addon does (ports dns, dns-tcp, metrics); an existing one is left alone.
func (b *Bootstrap) ensureDNSService(ctx context.Context) error {
	if !b.cfg.DNSServiceIP.IsValid() {
		return nil
	}
	svcs := b.cfg.Client.CoreV1().Services(metav1.NamespaceSystem)
	_, err := svcs.Get(ctx, "kube-dns", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: map[string]string{
			"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
		Spec: corev1.ServiceSpec{ClusterIP: b.cfg.DNSServiceIP.String(), Ports: []corev1.ServicePort{
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(53)},
			{Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53, TargetPort: intstr.FromInt32(53)},
		}},
	}
	_, err = svcs.Create(ctx, svc, metav1.CreateOptions{FieldManager: "svcnet-bootstrap"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("service kube-system/kube-dns: %w", err)
	}
	return nil
}

func (b *Bootstrap) ensureEndpoints(ctx context.Context, addrs []netip.Addr) error {
	eps := b.cfg.Client.CoreV1().Endpoints(metav1.NamespaceDefault)
	var addresses []corev1.EndpointAddress
	for _, a := range addrs {
		addresses = append(addresses, corev1.EndpointAddress{IP: a.String()})
	}
	want := []corev1.EndpointSubset{{
		Addresses: addresses,
		Ports:     []corev1.EndpointPort{{Name: "https", Port: b.cfg.Port, Protocol: corev1.ProtocolTCP}},
	}}
	cur, err := eps.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}}, Subsets: want}
		_, err = eps.Create(ctx, ep, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, want) {
		return nil
	}
	cur.Subsets = want
	_, err = eps.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (b *Bootstrap) ensureEndpointSlice(ctx context.Context, addrs []netip.Addr) error {
	slices := b.cfg.Client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault)
	addrType := discoveryv1.AddressTypeIPv4
	if b.cfg.Address.Is6() {
		addrType = discoveryv1.AddressTypeIPv6
	}
	var endpoints []discoveryv1.Endpoint
	for _, a := range addrs {
		endpoints = append(endpoints, discoveryv1.Endpoint{Addresses: []string{a.String()},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	want := discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes", discoveryv1.LabelManagedBy: "kube-apiserver"}},
		AddressType: addrType,
		Endpoints:   endpoints,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(b.cfg.Port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	cur, err := slices.Get(ctx, "kubernetes", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = slices.Create(ctx, &want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if cur.AddressType == want.AddressType && apiequality.Semantic.DeepEqual(cur.Endpoints, want.Endpoints) &&
		apiequality.Semantic.DeepEqual(cur.Ports, want.Ports) {
		return nil
	}
	if cur.AddressType != want.AddressType { // immutable: replace
		if err := slices.Delete(ctx, "kubernetes", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		_, err = slices.Create(ctx, &want, metav1.CreateOptions{})
		return err
	}
	cur.Endpoints, cur.Ports = want.Endpoints, want.Ports
	_, err = slices.Update(ctx, cur, metav1.UpdateOptions{})
	return err
}
