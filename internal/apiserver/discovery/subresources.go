package discovery

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Subresource describes a subresource that discovery cannot derive from a
// registry.Resource (everything but status and scale), e.g. pods/log.
type Subresource struct {
	// Group and Version of the parent resource.
	Group, Version string
	// Resource is the parent's plural name ("pods").
	Resource string
	// Name is the subresource ("log").
	Name string
	// Kind is the kind the subresource returns. An empty Group and Version
	// mean the parent's group and version.
	Kind schema.GroupVersionKind
	// Verbs as upstream lists them.
	Verbs []string
}

// UpstreamSubresources returns the subresources svcnet implements
// with the kinds and verbs kube-apiserver advertises for them. Those whose
// parent resource is not served are dropped by New.
func UpstreamSubresources() []Subresource {
	core := func(kind string) schema.GroupVersionKind { return schema.GroupVersionKind{Version: "v1", Kind: kind} }
	proxyVerbs := []string{"create", "delete", "get", "patch", "update"}
	return []Subresource{
		{Version: "v1", Resource: "pods", Name: "attach", Kind: core("PodAttachOptions"), Verbs: []string{"create", "get"}},
		{Version: "v1", Resource: "pods", Name: "binding", Kind: core("Binding"), Verbs: []string{"create"}},
		{Version: "v1", Resource: "pods", Name: "eviction", Kind: schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "Eviction"}, Verbs: []string{"create"}},
		{Version: "v1", Resource: "pods", Name: "exec", Kind: core("PodExecOptions"), Verbs: []string{"create", "get"}},
		{Version: "v1", Resource: "pods", Name: "log", Kind: core("Pod"), Verbs: []string{"get"}},
		{Version: "v1", Resource: "pods", Name: "portforward", Kind: core("PodPortForwardOptions"), Verbs: []string{"create", "get"}},
		{Version: "v1", Resource: "pods", Name: "proxy", Kind: core("PodProxyOptions"), Verbs: proxyVerbs},
		{Version: "v1", Resource: "services", Name: "proxy", Kind: core("ServiceProxyOptions"), Verbs: proxyVerbs},
		{Version: "v1", Resource: "nodes", Name: "proxy", Kind: core("NodeProxyOptions"), Verbs: proxyVerbs},
		{Version: "v1", Resource: "namespaces", Name: "finalize", Kind: core("Namespace"), Verbs: []string{"update"}},
		{Version: "v1", Resource: "serviceaccounts", Name: "token", Kind: schema.GroupVersionKind{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"}, Verbs: []string{"create"}},
		{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests", Name: "approval",
			Kind: schema.GroupVersionKind{Kind: "CertificateSigningRequest"}, Verbs: []string{"get", "patch", "update"}},
	}
}
