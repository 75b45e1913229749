package envvars

import (
	"net"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// MasterServiceNamespace is the namespace of the master services whose
// variables every pod sees, whatever its namespace or enableServiceLinks.
const MasterServiceNamespace = "default"

// MasterServiceName is the name of the master service in
// MasterServiceNamespace.
const MasterServiceName = "kubernetes"

// hasClusterIP reports whether a Service has a usable ClusterIP: headless
// and ExternalName Services produce no variables.
func hasClusterIP(svc *v1.Service) bool {
	if svc.Spec.Type == v1.ServiceTypeExternalName {
		return false
	}
	return svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != v1.ClusterIPNone
}

// SelectServices returns the Services whose variables a pod in namespace ns
// gets: the master services of the default namespace, and, when
// enableServiceLinks is true, every Service with a ClusterIP in ns. A Service
// of the pod's own namespace shadows a master service of the same name.
// The input order is kept, which makes the output deterministic for sorted
// input.
func SelectServices(services []*v1.Service, ns string, enableServiceLinks bool) []*v1.Service {
	chosen := map[string]*v1.Service{}
	var order []string
	add := func(svc *v1.Service) {
		if _, ok := chosen[svc.Name]; !ok {
			order = append(order, svc.Name)
		}
		chosen[svc.Name] = svc
	}
	for _, svc := range services {
		if !hasClusterIP(svc) {
			continue
		}
		switch {
		case svc.Namespace == MasterServiceNamespace && svc.Name == MasterServiceName:
			if _, ok := chosen[svc.Name]; !ok {
				add(svc)
			}
		case svc.Namespace == ns && enableServiceLinks:
			add(svc)
		}
	}
	out := make([]*v1.Service, 0, len(order))
	for _, name := range order {
		out = append(out, chosen[name])
	}
	return out
}

// FromServices returns the environment variables of the given Services, in
// kubelet's order: per Service the _SERVICE_HOST, _SERVICE_PORT and named
// _SERVICE_PORT_{NAME} variables, then the Docker-link style _PORT ones.
func FromServices(services []*v1.Service) []v1.EnvVar {
	var out []v1.EnvVar
	for _, svc := range services {
		if !hasClusterIP(svc) {
			continue
		}
		prefix := makeName(svc.Name)
		out = append(out, v1.EnvVar{Name: prefix + "_SERVICE_HOST", Value: svc.Spec.ClusterIP})
		if len(svc.Spec.Ports) == 0 {
			continue
		}
		out = append(out, v1.EnvVar{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(svc.Spec.Ports[0].Port))})
		for _, sp := range svc.Spec.Ports {
			if sp.Name != "" {
				out = append(out, v1.EnvVar{
					Name:  prefix + "_SERVICE_PORT_" + makeName(sp.Name),
					Value: strconv.Itoa(int(sp.Port)),
				})
			}
		}
		out = append(out, linkVariables(prefix, svc)...)
	}
	return out
}

// linkVariables returns the Docker-link compatible variables of a Service.
func linkVariables(prefix string, svc *v1.Service) []v1.EnvVar {
	var out []v1.EnvVar
	ip := svc.Spec.ClusterIP
	for i, sp := range svc.Spec.Ports {
		proto := sp.Protocol
		if proto == "" {
			proto = v1.ProtocolTCP
		}
		lower := strings.ToLower(string(proto))
		port := strconv.Itoa(int(sp.Port))
		url := lower + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			out = append(out, v1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		p := prefix + "_PORT_" + port + "_" + strings.ToUpper(string(proto))
		out = append(out,
			v1.EnvVar{Name: p, Value: url},
			v1.EnvVar{Name: p + "_PROTO", Value: lower},
			v1.EnvVar{Name: p + "_PORT", Value: port},
			v1.EnvVar{Name: p + "_ADDR", Value: ip},
		)
	}
	return out
}

// makeName turns a Service or port name into a variable name component.
func makeName(s string) string {
	return strings.ReplaceAll(strings.ToUpper(s), "-", "_")
}

// Merge returns the container's own variables in declaration order followed
// by the service variables it does not define itself: container env wins.
func Merge(container, service []v1.EnvVar) []v1.EnvVar {
	defined := make(map[string]bool, len(container))
	out := make([]v1.EnvVar, 0, len(container)+len(service))
	for _, e := range container {
		defined[e.Name] = true
		out = append(out, e)
	}
	for _, e := range service {
		if !defined[e.Name] {
			out = append(out, e)
		}
	}
	return out
}
