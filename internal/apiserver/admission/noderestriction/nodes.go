package noderestriction

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/svcnet/svcnet/internal/registry"
)

// admitNode lets a node create and update only its own Node, without a
// configSource, without changing its taints after registering, and
// without setting labels the cluster's administrators reserve; it deletes
// no Node.
func admitNode(node string, a *registry.AdmissionAttributes) error {
	name := a.Name
	if a.Operation == registry.Create {
		// A create names no object in its URL: the object's name counts.
		if acc, err := meta.Accessor(a.Object); err == nil {
			name = acc.GetName()
		}
	} else if _, n := stored(a); n != "" {
		name = n
	}
	if name != node {
		return forbidden(a, "node %q is not allowed to modify node %q", node, name)
	}
	switch a.Operation {
	case registry.Create:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return unexpectedType(a, a.Object)
		}
		// The node's view is scoped to what its Node names: a config
		// source would widen it.
		if n.Spec.ConfigSource != nil {
			return forbidden(a, "node %q is not allowed to create its Node with a non-nil configSource", node)
		}
		if bad := forbiddenLabels(modifiedLabels(n.Labels, nil)); len(bad) > 0 {
			return forbidden(a, "node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", "))
		}
	case registry.Update:
		n, ok := a.Object.(*corev1.Node)
		if !ok {
			return unexpectedType(a, a.Object)
		}
		old, ok := a.OldObject.(*corev1.Node)
		if !ok {
			return unexpectedType(a, a.OldObject)
		}
		if n.Spec.ConfigSource != nil && !apiequality.Semantic.DeepEqual(n.Spec.ConfigSource, old.Spec.ConfigSource) {
			return forbidden(a, "node %q is not allowed to update configSource to a new non-nil configSource", node)
		}
		// Taints keep workloads away: a node may not lift its own.
		if !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
			return forbidden(a, "node %q is not allowed to modify taints", node)
		}
		if bad := forbiddenLabels(modifiedLabels(n.Labels, old.Labels)); len(bad) > 0 {
			return forbidden(a, "node %q is not allowed to modify labels: %s", node, strings.Join(bad, ", "))
		}
	case registry.Delete:
		return forbidden(a, "node %q is not allowed to delete node %q", node, name)
	}
	return nil
}

// modifiedLabels lists, sorted, the keys whose values differ between two
// label sets (added, removed or changed).
func modifiedLabels(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// kubeletLabels are the kubernetes.io labels a node may set on its own
// Node, as upstream's kubelet label list has them.
func kubeletLabels() []string {
	return []string{
		corev1.LabelHostname,
		corev1.LabelTopologyZone,
		corev1.LabelTopologyRegion,
		corev1.LabelFailureDomainBetaZone,
		corev1.LabelFailureDomainBetaRegion,
		corev1.LabelInstanceType,
		corev1.LabelInstanceTypeStable,
		corev1.LabelOSStable,
		corev1.LabelArchStable,
		"beta.kubernetes.io/os",
		"beta.kubernetes.io/arch",
	}
}

// forbiddenLabels returns the keys of keys a node may not set, change or
// remove on its own Node: those under node-restriction.kubernetes.io,
// which administrators use to steer workloads to nodes they trust, and
// every other kubernetes.io or k8s.io key but the kubelet's own labels
// and the kubelet.kubernetes.io and node.kubernetes.io domains.
func forbiddenLabels(keys []string) []string {
	var out []string
	for _, k := range keys {
		domain, _, ok := strings.Cut(k, "/")
		if !ok {
			continue
		}
		switch {
		case inDomain(domain, corev1.LabelNamespaceNodeRestriction):
			out = append(out, k)
		case !inDomain(domain, "kubernetes.io") && !inDomain(domain, "k8s.io"):
		case slices.Contains(kubeletLabels(), k),
			inDomain(domain, corev1.LabelNamespaceSuffixKubelet), inDomain(domain, corev1.LabelNamespaceSuffixNode):
		default:
			out = append(out, k)
		}
	}
	return out
}

// inDomain says whether domain is parent or one of its subdomains.
func inDomain(domain, parent string) bool {
	return domain == parent || strings.HasSuffix(domain, "."+parent)
}

// admitLease lets a node write only its own Lease in kube-node-lease.
func admitLease(node string, a *registry.AdmissionAttributes) error {
	ns, name := stored(a)
	if a.Operation == registry.Create {
		acc, err := meta.Accessor(a.Object)
		if err != nil {
			return unexpectedType(a, a.Object)
		}
		ns, name = acc.GetNamespace(), acc.GetName()
	}
	if ns != corev1.NamespaceNodeLease {
		return forbidden(a, "can only access leases in the %q system namespace", corev1.NamespaceNodeLease)
	}
	if name != node {
		return forbidden(a, "can only access node lease with the same name as the requesting node")
	}
	return nil
}
