package node

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/apiserver/authz"
)

// selfName in a rule's names stands for the requesting node's name.
const selfName = "{node}"

// Objects of the cluster that node components read or write by name.
const (
	// poolsNamespace and poolsConfigMap name the LoadBalancer IP pools the
	// announcer watches (controller/loadbalancer.PoolsNamespace and
	// PoolsConfigMap; a test keeps them equal).
	poolsNamespace = metav1.NamespaceSystem
	poolsConfigMap = "svcnet-loadbalancer-pools"
	// dnsSliceNamespace and dnsSliceName name the EndpointSlice by which
	// a node's DNS server publishes itself behind the kube-dns Service
	// (server.publishDNSEndpoint).
	dnsSliceNamespace = metav1.NamespaceSystem
	dnsSliceName      = "kube-dns-" + selfName
)

// rule is one thing every node may do, like an RBAC PolicyRule with an
// optional namespace.
type rule struct {
	verbs, groups []string
	// resources are "pods" or "pods/status" (resource/subresource).
	resources []string
	// namespace limits the rule to one namespace; "" is every namespace
	// and the cluster scope.
	namespace string
	// names limits the rule to these objects; selfName is replaced by the
	// node's name. A create names no object in its request: it matches
	// a rule with names, and NodeRestriction checks the object's name.
	names []string
}

// staticRules are the rules of every node: upstream's system:node role
// (bootstrappolicy.NodeRules) without what the graph decides (secrets,
// configmaps, persistentvolumeclaims, persistentvolumes,
// serviceaccounts/token), without what svcnet does not serve (CSI, DRA,
// RuntimeClass, persistentvolumeclaims/status), with Node and Lease
// access limited to the node's own objects, plus what svcnet's proxy, DNS
// server and LoadBalancer announcer need.
func staticRules() []rule {
	read := []string{"get", "list", "watch"}
	change := []string{"update", "patch"}
	core := []string{""}
	return []rule{
		// Reviews: the kubelet API may authenticate and authorize its
		// callers through the API server; these creates change nothing.
		{verbs: []string{"create"}, groups: []string{"authentication.k8s.io"}, resources: []string{"tokenreviews"}},
		{verbs: []string{"create"}, groups: []string{"authorization.k8s.io"},
			resources: []string{"subjectaccessreviews", "localsubjectaccessreviews"}},

		// Services: the agent's service environment variables, the proxy,
		// the DNS server and the announcer watch every Service.
		{verbs: read, groups: core, resources: []string{"services"}},
		// EndpointSlices and Namespaces: the proxy, DNS server and
		// announcer watch every one.
		{verbs: []string{"list", "watch"}, groups: []string{"discovery.k8s.io"}, resources: []string{"endpointslices"}},
		{verbs: []string{"list", "watch"}, groups: core, resources: []string{"namespaces"}},
		// The node's DNS server publishes its address in its own
		// EndpointSlice of the kube-dns Service; NodeRestriction checks
		// what it holds.
		{verbs: []string{"get", "create", "update", "patch"}, groups: []string{"discovery.k8s.io"},
			resources: []string{"endpointslices"}, namespace: dnsSliceNamespace, names: []string{dnsSliceName}},
		// The announcer watches the LoadBalancer IP pools, one ConfigMap
		// (list/watch with a metadata.name field selector).
		{verbs: read, groups: core, resources: []string{"configmaps"}, namespace: poolsNamespace,
			names: []string{poolsConfigMap}},

		// Nodes: every Node is read (topology, the DNS server's client
		// allow-list, announcer elections); a node registers and updates
		// only its own Node and status. Nodes never delete Nodes.
		{verbs: read, groups: core, resources: []string{"nodes"}},
		{verbs: []string{"create", "update", "patch"}, groups: core, resources: []string{"nodes"}, names: []string{selfName}},
		{verbs: change, groups: core, resources: []string{"nodes/status"}, names: []string{selfName}},
		// Leases: the node heartbeat, its own Lease in kube-node-lease.
		{verbs: []string{"get", "create", "update", "patch", "delete"}, groups: []string{"coordination.k8s.io"},
			resources: []string{"leases"}, namespace: corev1.NamespaceNodeLease, names: []string{selfName}},

		// Pods: every Pod is read; NodeRestriction limits create (refused:
		// svcnet has no mirror pods), delete, status and eviction to the
		// node's own pods.
		{verbs: read, groups: core, resources: []string{"pods"}},
		{verbs: []string{"create", "delete"}, groups: core, resources: []string{"pods"}},
		{verbs: change, groups: core, resources: []string{"pods/status"}},
		{verbs: []string{"create"}, groups: core, resources: []string{"pods/eviction"}},

		// Events: the agent reports pod events, in both event APIs.
		{verbs: []string{"create", "update", "patch"}, groups: core, resources: []string{"events"}},
		{verbs: []string{"create", "update", "patch"}, groups: []string{"events.k8s.io"}, resources: []string{"events"}},

		// Endpoints by name: upstream's rule for volume plugins that
		// resolve servers through Endpoints (glusterfs).
		{verbs: []string{"get"}, groups: core, resources: []string{"endpoints"}},

		// CertificateSigningRequests: a node requests and watches the
		// certificates it rotates to.
		{verbs: []string{"create", "get", "list", "watch"}, groups: []string{"certificates.k8s.io"},
			resources: []string{"certificatesigningrequests"}},
	}
}

// nodeRule is r for the node named node.
func (r rule) nodeRule(node string) rule {
	if len(r.names) == 0 {
		return r
	}
	out := r
	out.names = make([]string, len(r.names))
	for i, n := range r.names {
		out.names[i] = strings.ReplaceAll(n, selfName, node)
	}
	return out
}

// allows says whether r, for node, allows the resource request a.
func (r rule) allows(node string, a authz.Attributes) bool {
	if !a.ResourceRequest || (r.namespace != "" && r.namespace != a.Namespace) {
		return false
	}
	resource := a.Resource
	if a.Subresource != "" {
		resource += "/" + a.Subresource
	}
	if !slices.Contains(r.verbs, a.Verb) || !slices.Contains(r.groups, a.Group) || !slices.Contains(r.resources, resource) {
		return false
	}
	if len(r.names) == 0 || (a.Verb == "create" && a.Name == "") {
		return true
	}
	return slices.Contains(r.nodeRule(node).names, a.Name)
}

// authzRule is r as SelfSubjectRulesReview lists it.
func (r rule) authzRule() authz.Rule {
	return authz.Rule{Verbs: slices.Clone(r.verbs), APIGroups: slices.Clone(r.groups),
		Resources: slices.Clone(r.resources), ResourceNames: slices.Clone(r.names)}
}
