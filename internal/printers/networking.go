package printers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/registry"
)

// maxIngressHosts is how many hosts the HOSTS column names before
// "+ N more...", as upstream.
const maxIngressHosts = 3

// Ingresses prints networking.k8s.io/v1 Ingresses: NAME CLASS HOSTS
// ADDRESS PORTS AGE.
func Ingresses(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Ingresses(ctx, obj, opts)
}

// Ingresses is the package-level Ingresses with p's clock. ADDRESS is the
// wide form (never clipped), as for Services.
func (p *Printer) Ingresses(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used"},
		{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
		{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
		{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, ing *networkingv1.Ingress, row *metav1.TableRow) error {
		class := "<none>"
		if ing.Spec.IngressClassName != nil {
			class = *ing.Spec.IngressClassName
		}
		ports := "80"
		if len(ing.Spec.TLS) > 0 {
			ports = "80, 443"
		}
		row.Cells = append(row.Cells, ing.Name, class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer),
			ports, since(now, ing.CreationTimestamp))
		return nil
	})
}

// ingressHosts names the first hosts of rules ("*" when none has a host).
// Past the limit it counts every further rule, host or not, as upstream.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == maxIngressHosts {
			more = true
			break
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		s = fmt.Sprintf("%s + %d more...", s, len(rules)-maxIngressHosts)
	}
	return s
}

// ingressAddress lists the distinct IPs (or hostnames, for entries
// without an IP) of status, sorted.
func ingressAddress(status networkingv1.IngressLoadBalancerStatus) string {
	var addrs []string
	for _, ing := range status.Ingress {
		a := ing.IP
		if a == "" {
			a = ing.Hostname
		}
		if a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs)
	return strings.Join(addrs, ",")
}

// IngressClasses prints networking.k8s.io/v1 IngressClasses: NAME
// CONTROLLER PARAMETERS AGE.
func IngressClasses(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).IngressClasses(ctx, obj, opts)
}

// IngressClasses is the package-level IngressClasses with p's clock.
func (p *Printer) IngressClasses(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "Controller", Type: "string", Description: "Controller that is responsible for handling this class"},
		{Name: "Parameters", Type: "string", Description: "A reference to a resource with additional parameters"},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, c *networkingv1.IngressClass, row *metav1.TableRow) error {
		params := "<none>"
		if ref := c.Spec.Parameters; ref != nil {
			params = ref.Kind
			if ref.APIGroup != nil {
				params += "." + *ref.APIGroup
			}
			params += "/" + ref.Name
		}
		row.Cells = append(row.Cells, c.Name, c.Spec.Controller, params, since(now, c.CreationTimestamp))
		return nil
	})
}

// ServiceCIDRs prints networking.k8s.io/v1 ServiceCIDRs: NAME CIDRS AGE.
func ServiceCIDRs(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).ServiceCIDRs(ctx, obj, opts)
}

// ServiceCIDRs is the package-level ServiceCIDRs with p's clock.
func (p *Printer) ServiceCIDRs(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "CIDRs", Type: "string", Description: networkingv1.ServiceCIDRSpec{}.SwaggerDoc()["cidrs"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, c *networkingv1.ServiceCIDR, row *metav1.TableRow) error {
		row.Cells = append(row.Cells, c.Name, strings.Join(c.Spec.CIDRs, ","), since(now, c.CreationTimestamp))
		return nil
	})
}

// IPAddresses prints networking.k8s.io/v1 IPAddresses: NAME PARENTREF AGE,
// the parent as resource[.group][/namespace]/name ("services/default/web").
func IPAddresses(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).IPAddresses(ctx, obj, opts)
}

// IPAddresses is the package-level IPAddresses with p's clock.
func (p *Printer) IPAddresses(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	columns := []metav1.TableColumnDefinition{
		nameColumn(),
		{Name: "ParentRef", Type: "string", Description: networkingv1.IPAddressSpec{}.SwaggerDoc()["parentRef"]},
		ageColumn(),
	}
	return build(p, columns, obj, opts, func(now time.Time, ip *networkingv1.IPAddress, row *metav1.TableRow) error {
		parent := "<none>"
		if ref := ip.Spec.ParentRef; ref != nil {
			parent = strings.ToLower(schema.GroupResource{Group: ref.Group, Resource: ref.Resource}.String())
			if ref.Namespace != "" {
				parent += "/" + ref.Namespace
			}
			parent += "/" + ref.Name
		}
		row.Cells = append(row.Cells, ip.Name, parent, since(now, ip.CreationTimestamp))
		return nil
	})
}
