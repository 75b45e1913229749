package printers

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// maxListed is how many endpoints or ports upstream lists before
// summarising the rest as " + N more...".
const maxListed = 3

// Services prints core/v1 Services: NAME TYPE CLUSTER-IP EXTERNAL-IP
// PORT(S) AGE, and SELECTOR with -o wide.
func Services(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Services(ctx, obj, opts)
}

// Services is the package-level Services with p's clock.
func (p *Printer) Services(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	doc := corev1.ServiceSpec{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Type", Type: "string", Description: doc["type"]},
		{Name: "Cluster-IP", Type: "string", Description: doc["clusterIP"]},
		{Name: "External-IP", Type: "string", Description: doc["externalIPs"]},
		{Name: "Port(s)", Type: "string", Description: doc["ports"]},
		ageColumn(),
		{Name: "Selector", Type: "string", Priority: 1, Description: doc["selector"]},
	}
	return build(p, columns, obj, opts, serviceRow)
}

func serviceRow(now time.Time, s *corev1.Service, row *metav1.TableRow) error {
	clusterIP := "<none>"
	switch {
	case len(s.Spec.ClusterIPs) > 0:
		clusterIP = s.Spec.ClusterIPs[0]
	case s.Spec.ClusterIP != "":
		clusterIP = s.Spec.ClusterIP
	}
	ports := servicePorts(s.Spec.Ports)
	if ports == "" {
		ports = "<none>"
	}
	row.Cells = append(row.Cells, s.Name, string(s.Spec.Type), clusterIP, serviceExternalIP(s), ports,
		since(now, s.CreationTimestamp), labels.FormatLabels(s.Spec.Selector))
	return nil
}

// servicePorts renders ports as "port/proto" or "port:nodePort/proto",
// joined with ",".
func servicePorts(ports []corev1.ServicePort) string {
	out := make([]string, len(ports))
	for i, sp := range ports {
		if sp.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", sp.Port, sp.NodePort, sp.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", sp.Port, sp.Protocol)
		}
	}
	return strings.Join(out, ",")
}

// serviceExternalIP is the EXTERNAL-IP cell: external IPs, load-balancer
// ingress points (IP, else hostname; sorted, deduplicated) before them for
// LoadBalancer Services, "<pending>" for a LoadBalancer without any, and the
// external name of an ExternalName Service. The server always renders the
// wide form, so ingress lists are never clipped.
func serviceExternalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		all := append(ingressPoints(s.Status.LoadBalancer), s.Spec.ExternalIPs...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

func ingressPoints(st corev1.LoadBalancerStatus) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range st.Ingress {
		v := in.IP
		if v == "" {
			v = in.Hostname
		}
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// Endpoints prints core/v1 Endpoints: NAME ENDPOINTS AGE.
func Endpoints(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Endpoints(ctx, obj, opts)
}

// Endpoints is the package-level Endpoints with p's clock.
func (p *Printer) Endpoints(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, e *corev1.Endpoints, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, e.Name, formatEndpoints(e), since(now, e.CreationTimestamp))
		return nil
	})
}

// formatEndpoints lists the ready addresses of e as ip:port (bare IPs for
// subsets without ports), at most maxListed of them.
func formatEndpoints(e *corev1.Endpoints) string {
	if len(e.Subsets) == 0 {
		return "<none>"
	}
	var list []string
	total := 0
	add := func(s string) {
		total++
		if len(list) < maxListed {
			list = append(list, s)
		}
	}
	for _, ss := range e.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if total > maxListed {
		return fmt.Sprintf("%s + %d more...", s, total-maxListed)
	}
	return s
}

// EndpointSlices prints discovery.k8s.io/v1 EndpointSlices: NAME
// ADDRESSTYPE PORTS ENDPOINTS AGE.
func EndpointSlices(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).EndpointSlices(ctx, obj, opts)
}

// EndpointSlices is the package-level EndpointSlices with p's clock.
func (p *Printer) EndpointSlices(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	doc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "AddressType", Type: "string", Description: doc["addressType"]},
		{Name: "Ports", Type: "string", Description: doc["ports"]},
		{Name: "Endpoints", Type: "string", Description: doc["endpoints"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, s *discoveryv1.EndpointSlice, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, s.Name, string(s.AddressType), slicePorts(s.Ports), sliceEndpoints(s.Endpoints), since(now, s.CreationTimestamp))
		return nil
	})
}

// slicePorts lists port numbers ("*" for all ports, the name when only
// that is set).
func slicePorts(ports []discoveryv1.EndpointPort) string {
	var list []string
	for _, pt := range ports {
		if len(list) == maxListed {
			break
		}
		v := "*"
		switch {
		case pt.Port != nil:
			v = strconv.Itoa(int(*pt.Port))
		case pt.Name != nil:
			v = *pt.Name
		}
		list = append(list, v)
	}
	return joinWithMore(list, len(ports), maxListed)
}

// sliceEndpoints lists the addresses of every endpoint, ready or not.
func sliceEndpoints(eps []discoveryv1.Endpoint) string {
	var list []string
	total := 0
	for _, ep := range eps {
		for _, a := range ep.Addresses {
			if len(list) < maxListed {
				list = append(list, a)
			}
			total++
		}
	}
	return joinWithMore(list, total, maxListed)
}
