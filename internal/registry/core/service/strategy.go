package service

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of services.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies upstream's SetDefaults_Service.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Service)) }

// PrepareForCreate clears status and fills clusterIPs from a singular
// clusterIP sent by an old client.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	svc := obj.(*corev1.Service)
	svc.Status = corev1.ServiceStatus{}
	normalizeClusterIPs(svc, nil)
}

// PrepareForUpdate keeps the stored status, keeps the allocated values a
// client left out (so a PUT without clusterIP or nodePorts works),
// reconciles clusterIP with clusterIPs, and wipes the fields the new type no longer uses when the
// client left them as they were (they are released by the hooks).
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
	svc.Status = *oldSvc.Status.DeepCopy()
	patchAllocatedValues(svc, oldSvc)
	normalizeClusterIPs(svc, oldSvc)
	dropTypeDependentFields(svc, oldSvc)
}

// Validate validates a new service.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateService(obj.(*corev1.Service))
}

// ValidateUpdate validates a service update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
}

// StatusStrategy governs writes to services/status (load-balancer
// controllers).
type StatusStrategy struct{}

// PrepareForUpdate keeps the stored spec: a status write cannot change it.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	svc, oldSvc := obj.(*corev1.Service), old.(*corev1.Service)
	svc.Spec = *oldSvc.Spec.DeepCopy()
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateServiceStatusUpdate(obj.(*corev1.Service), old.(*corev1.Service))
}

// patchAllocatedValues copies allocated values the client left empty from
// the stored object, as upstream does for idempotent PUTs: clusterIP(s),
// nodePorts (matched by port name, unless another port of the new object
// already uses that nodePort) and healthCheckNodePort.
func patchAllocatedValues(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = slices.Clone(old.Spec.ClusterIPs)
		}
	}
	if needsNodePort(old) && needsNodePort(svc) {
		inNew := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			inNew[p.NodePort] = true
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if v := byName[p.Name]; p.NodePort == 0 && v != 0 && !inNew[v] {
				p.NodePort = v
			}
		}
	}
	if needsHealthCheck(old) && needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// normalizeClusterIPs infers what the client meant with the linked
// clusterIP/clusterIPs fields: an old client only sends the singular one.
// Validation runs right after and rejects what is still inconsistent.
func normalizeClusterIPs(svc, old *corev1.Service) {
	if old == nil {
		if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
		return
	}
	// Update: only when the singular field changed and the plural did not.
	if svc.Spec.ClusterIP != old.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIPs = nil
		} else {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
	}
}

// dropTypeDependentFields is upstream's rule for type changes: a field the
// new type does not use is wiped, but only when the client did not also
// change it (then validation reports the conflict instead).
func dropTypeDependentFields(svc, old *corev1.Service) {
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if sameClusterIPs(old, svc) {
			svc.Spec.ClusterIP = ""
			svc.Spec.ClusterIPs = nil
		}
		if slices.Equal(old.Spec.IPFamilies, svc.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if policyOf(old) == policyOf(svc) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(svc) && nodePortsSubset(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheck(old) && !needsHealthCheck(svc) && old.Spec.HealthCheckNodePort == svc.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		a, b := old.Spec.AllocateLoadBalancerNodePorts, svc.Spec.AllocateLoadBalancerNodePorts
		if a != nil && b != nil && *a == *b {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if sameLoadBalancerClass(old, svc) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(svc) && old.Spec.ExternalTrafficPolicy == svc.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

func sameClusterIPs(a, b *corev1.Service) bool {
	return a.Spec.ClusterIP == b.Spec.ClusterIP && slices.Equal(a.Spec.ClusterIPs, b.Spec.ClusterIPs)
}

// nodePortsSubset reports whether svc adds no nodePort old did not have.
func nodePortsSubset(svc, old *corev1.Service) bool {
	had := map[int32]bool{}
	for _, p := range old.Spec.Ports {
		had[p.NodePort] = true
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !had[p.NodePort] {
			return false
		}
	}
	return true
}

func sameLoadBalancerClass(a, b *corev1.Service) bool {
	x, y := a.Spec.LoadBalancerClass, b.Spec.LoadBalancerClass
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	return *x == *y
}

// policyOf is the ipFamilyPolicy of svc, "" when unset.
func policyOf(svc *corev1.Service) corev1.IPFamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *svc.Spec.IPFamilyPolicy
}
