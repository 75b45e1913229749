package noderestriction

import (
	"context"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/registry"
)

var (
	podsGVR   = corev1.SchemeGroupVersion.WithResource("pods")
	nodesGVR  = corev1.SchemeGroupVersion.WithResource("nodes")
	saGVR     = corev1.SchemeGroupVersion.WithResource("serviceaccounts")
	leaseGVR  = coordinationv1.SchemeGroupVersion.WithResource("leases")
	slicesGVR = discoveryv1.SchemeGroupVersion.WithResource("endpointslices")
	eventsGVR = corev1.SchemeGroupVersion.WithResource("events")
)

func pod(name, node string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: name, UID: types.UID("uid-" + name),
		Labels: map[string]string{"app": "x"}}, Spec: corev1.PodSpec{NodeName: node, ServiceAccountName: "sa"}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func node(name string, mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"node-restriction.kubernetes.io/pool": "trusted"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Value: "x", Effect: corev1.TaintEffectNoSchedule}}}}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func withLabel(k, v string) func(*corev1.Node) {
	return func(n *corev1.Node) {
		if v == "" {
			delete(n.Labels, k)
			return
		}
		n.Labels[k] = v
	}
}

// registered is a Node as the node itself first registers it.
func registered(name string, mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}}}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func tokenRequest(ref *authenticationv1.BoundObjectReference) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "sa"},
		Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: ref}}
}

func podRef(name string, uid types.UID) *authenticationv1.BoundObjectReference {
	return &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: name, UID: uid}
}

func lease(ns, name string) *coordinationv1.Lease {
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func dnsSlice(ns, name string, mutate ...func(*discoveryv1.EndpointSlice)) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.1"}, NodeName: ptr.To("a")}},
	}
	for _, m := range mutate {
		m(s)
	}
	return s
}

// attrs describes one write as the REST handler does: namespace and name
// from the first of obj and old that has them.
func attrs(op registry.Operation, gvr schema.GroupVersionResource, sub string, obj, old runtime.Object) *registry.AdmissionAttributes {
	a := &registry.AdmissionAttributes{Operation: op, Resource: gvr, Subresource: sub, Object: obj, OldObject: old}
	for _, o := range []runtime.Object{obj, old} {
		if m, ok := o.(metav1.ObjectMetaAccessor); ok {
			a.Namespace, a.Name = m.GetObjectMeta().GetNamespace(), m.GetObjectMeta().GetName()
			break
		}
	}
	return a
}

var (
	nodeA = authn.User{Name: "system:node:a", Groups: []string{"system:nodes", authn.GroupAuthenticated}}
	alice = authn.User{Name: "alice", Groups: []string{authn.GroupAuthenticated}}
)

func TestAdmit(t *testing.T) {
	pods := map[string]*corev1.Pod{"pod-a": pod("pod-a", "a"), "pod-b": pod("pod-b", "b")}
	getPod := func(_ context.Context, ns, name string) (*corev1.Pod, error) {
		if p, ok := pods[name]; ok && ns == "ns1" {
			return p, nil
		}
		return nil, apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	own, other := pod("pod-a", "a"), pod("pod-b", "b")
	evict := func(name string) *policyv1.Eviction {
		return &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: name}}
	}
	tests := []struct {
		name string
		user *authn.User // nil: the server itself
		// noGetPod configures no GetPod.
		noGetPod bool
		attrs    *registry.AdmissionAttributes
		// want is "" to admit, else a part of the 403's message.
		want string
		// notFound expects a 404 instead.
		notFound bool
	}{
		// Who is checked.
		{name: "server itself", attrs: attrs(registry.Create, podsGVR, "", pod("p", "a"), nil)},
		{name: "plain user", user: &alice, attrs: attrs(registry.Create, podsGVR, "", pod("p", "a"), nil)},
		{name: "node name without group", user: &authn.User{Name: "system:node:a"},
			attrs: attrs(registry.Delete, podsGVR, "", nil, other)},
		{name: "node without a name", user: &authn.User{Name: "system:node:", Groups: []string{"system:nodes"}},
			attrs: attrs(registry.Create, eventsGVR, "", &corev1.Event{}, nil), want: `could not determine node from user "system:node:"`},

		// Pods.
		{name: "create a pod", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "", pod("p", "a"), nil),
			want: `pod does not have "kubernetes.io/config.mirror" annotation, node "a" can only create mirror pods`},
		{name: "create a mirror pod", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "", pod("p", "a", func(p *corev1.Pod) {
			p.Annotations = map[string]string{"kubernetes.io/config.mirror": "x"}
		}), nil), want: `node "a" can not create mirror pods`},
		{name: "delete own pod", user: &nodeA, attrs: attrs(registry.Delete, podsGVR, "", nil, own)},
		{name: "delete other node's pod", user: &nodeA, attrs: attrs(registry.Delete, podsGVR, "", nil, other),
			want: `node "a" can only delete pods with spec.nodeName set to itself`},
		{name: "delete own pod read by name", user: &nodeA,
			attrs: &registry.AdmissionAttributes{Operation: registry.Delete, Resource: podsGVR, Namespace: "ns1", Name: "pod-a"}},
		{name: "delete a missing pod", user: &nodeA, notFound: true,
			attrs: &registry.AdmissionAttributes{Operation: registry.Delete, Resource: podsGVR, Namespace: "ns1", Name: "gone"}},
		{name: "update a pod", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "", own, own),
			want: `unexpected operation "UPDATE", node "a" can only create and delete mirror pods`},
		{name: "bind a pod", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "binding", own, own),
			want: `unexpected pod subresource "binding", only 'status' and 'eviction' are allowed`},

		// Pod status.
		{name: "own pod status", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "status",
			pod("pod-a", "a", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }), own)},
		{name: "other node's pod status", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "status", other, other),
			want: `node "a" can only update pod status for pods with spec.nodeName set to itself`},
		{name: "labels through status", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "status",
			pod("pod-a", "a", func(p *corev1.Pod) { p.Labels["app"] = "y" }), own),
			want: `node "a" cannot update labels through pod status`},
		{name: "claim statuses through status", user: &nodeA, attrs: attrs(registry.Update, podsGVR, "status",
			pod("pod-a", "a", func(p *corev1.Pod) {
				p.Status.ResourceClaimStatuses = []corev1.PodResourceClaimStatus{{Name: "c", ResourceClaimName: ptr.To("x")}}
			}), own), want: `node "a" cannot update resource claim statuses`},
		{name: "create status", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "status", own, nil),
			want: `unexpected operation "CREATE"`},

		// Evictions.
		{name: "evict own pod", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "eviction", evict("pod-a"), own)},
		{name: "evict other node's pod", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "eviction", evict("pod-b"), other),
			want: "node a can only evict pods with spec.nodeName set to itself"},
		{name: "evict other node's pod read by name", user: &nodeA,
			attrs: attrs(registry.Create, podsGVR, "eviction", evict("pod-b"), nil),
			want:  "node a can only evict pods with spec.nodeName set to itself"},
		{name: "evict a missing pod", user: &nodeA, attrs: attrs(registry.Create, podsGVR, "eviction", evict("gone"), nil),
			notFound: true},

		// Nodes.
		{name: "register own node", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "", registered("a"), nil)},
		{name: "register with allowed labels", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "", registered("a",
			withLabel("node.kubernetes.io/instance-type", "m"), withLabel("kubelet.kubernetes.io/x", "y"),
			withLabel("sub.node.kubernetes.io/x", "y"), withLabel("topology.kubernetes.io/zone", "z"),
			withLabel("example.com/role", "web"), withLabel("plain", "y")), nil)},
		{name: "register another node", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "", registered("b"), nil),
			want: `node "a" is not allowed to modify node "b"`},
		{name: "register with node-restriction label", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "",
			registered("a", withLabel("node-restriction.kubernetes.io/pool", "trusted"),
				withLabel("example.node-restriction.kubernetes.io/x", "y")), nil),
			want: `node "a" is not allowed to set the following labels: example.node-restriction.kubernetes.io/x, ` +
				`node-restriction.kubernetes.io/pool`},
		{name: "register with other kubernetes.io labels", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "",
			registered("a", withLabel("node-role.kubernetes.io/control-plane", "true"), withLabel("foo.k8s.io/x", "y")), nil),
			want: `node "a" is not allowed to set the following labels: foo.k8s.io/x, node-role.kubernetes.io/control-plane`},
		{name: "register with a configSource", user: &nodeA, attrs: attrs(registry.Create, nodesGVR, "", registered("a",
			func(n *corev1.Node) { n.Spec.ConfigSource = &corev1.NodeConfigSource{} }), nil),
			want: `node "a" is not allowed to create its Node with a non-nil configSource`},
		{name: "update own status", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "status",
			node("a", func(n *corev1.Node) { n.Status.Phase = corev1.NodeRunning }), node("a"))},
		{name: "update own labels", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "",
			node("a", withLabel("example.com/role", "web"), withLabel("kubernetes.io/os", "")), node("a"))},
		{name: "remove node-restriction label", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "",
			node("a", withLabel("node-restriction.kubernetes.io/pool", "")), node("a")),
			want: `node "a" is not allowed to modify labels: node-restriction.kubernetes.io/pool`},
		{name: "change node-restriction label", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "",
			node("a", withLabel("node-restriction.kubernetes.io/pool", "other")), node("a")),
			want: `node "a" is not allowed to modify labels: node-restriction.kubernetes.io/pool`},
		{name: "lift own taints", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "",
			node("a", func(n *corev1.Node) { n.Spec.Taints = nil }), node("a")), want: `node "a" is not allowed to modify taints`},
		{name: "taints through status", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "status",
			node("a", func(n *corev1.Node) { n.Spec.Taints[0].Value = "y" }), node("a")), want: `node "a" is not allowed to modify taints`},
		{name: "set a configSource", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "",
			node("a", func(n *corev1.Node) { n.Spec.ConfigSource = &corev1.NodeConfigSource{} }), node("a")),
			want: `node "a" is not allowed to update configSource to a new non-nil configSource`},
		{name: "update another node", user: &nodeA, attrs: attrs(registry.Update, nodesGVR, "status", node("b"), node("b")),
			want: `node "a" is not allowed to modify node "b"`},
		{name: "delete own node", user: &nodeA, attrs: attrs(registry.Delete, nodesGVR, "", nil, node("a")),
			want: `node "a" is not allowed to delete node "a"`},
		{name: "delete another node", user: &nodeA, attrs: attrs(registry.Delete, nodesGVR, "", nil, node("b")),
			want: `node "a" is not allowed to modify node "b"`},
		{name: "server deletes a node", attrs: attrs(registry.Delete, nodesGVR, "", nil, node("a"))},

		// Leases.
		{name: "create own lease", user: &nodeA, attrs: attrs(registry.Create, leaseGVR, "", lease("kube-node-lease", "a"), nil)},
		{name: "update own lease", user: &nodeA,
			attrs: attrs(registry.Update, leaseGVR, "", lease("kube-node-lease", "a"), lease("kube-node-lease", "a"))},
		{name: "delete own lease", user: &nodeA, attrs: attrs(registry.Delete, leaseGVR, "", nil, lease("kube-node-lease", "a"))},
		{name: "create other lease", user: &nodeA, attrs: attrs(registry.Create, leaseGVR, "", lease("kube-node-lease", "b"), nil),
			want: "can only access node lease with the same name as the requesting node"},
		{name: "update other lease", user: &nodeA,
			attrs: attrs(registry.Update, leaseGVR, "", lease("kube-node-lease", "b"), lease("kube-node-lease", "b")),
			want:  "can only access node lease with the same name as the requesting node"},
		{name: "own name elsewhere", user: &nodeA, attrs: attrs(registry.Create, leaseGVR, "", lease("kube-system", "a"), nil),
			want: `can only access leases in the "kube-node-lease" system namespace`},

		// ServiceAccount tokens.
		{name: "token bound to own pod", user: &nodeA,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("pod-a", "uid-pod-a")), nil)},
		{name: "unbound token", user: &nodeA, attrs: attrs(registry.Create, saGVR, "token", tokenRequest(nil), nil),
			want: "node requested token not bound to a pod"},
		{name: "token bound to a secret", user: &nodeA, attrs: attrs(registry.Create, saGVR, "token",
			tokenRequest(&authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Secret", Name: "s", UID: "u"}), nil),
			want: "node requested token not bound to a pod"},
		{name: "token without uid", user: &nodeA,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("pod-a", "")), nil),
			want:  "node requested token with a pod binding without a uid"},
		{name: "token for a re-created pod", user: &nodeA,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("pod-a", "old")), nil),
			want:  "the UID in the bound object reference (old) does not match the UID in record"},
		{name: "token for other node's pod", user: &nodeA,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("pod-b", "uid-pod-b")), nil),
			want:  "node requested token bound to a pod scheduled on a different node"},
		{name: "token for a missing pod", user: &nodeA, notFound: true,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("gone", "u")), nil)},
		{name: "token without a pod reader", user: &nodeA, noGetPod: true,
			attrs: attrs(registry.Create, saGVR, "token", tokenRequest(podRef("pod-a", "uid-pod-a")), nil),
			want:  "cannot read pods to check the request"},
		{name: "other serviceaccount write", user: &nodeA,
			attrs: attrs(registry.Update, saGVR, "", &corev1.ServiceAccount{}, &corev1.ServiceAccount{})},

		// The node's kube-dns EndpointSlice.
		{name: "create own dns slice", user: &nodeA,
			attrs: attrs(registry.Create, slicesGVR, "", dnsSlice("kube-system", "kube-dns-a"), nil)},
		{name: "update own dns slice", user: &nodeA, attrs: attrs(registry.Update, slicesGVR, "",
			dnsSlice("kube-system", "kube-dns-a"), dnsSlice("kube-system", "kube-dns-a"))},
		{name: "delete own dns slice", user: &nodeA,
			attrs: attrs(registry.Delete, slicesGVR, "", nil, dnsSlice("kube-system", "kube-dns-a"))},
		{name: "create other node's dns slice", user: &nodeA,
			attrs: attrs(registry.Create, slicesGVR, "", dnsSlice("kube-system", "kube-dns-b"), nil),
			want:  `node "a" can only write its own EndpointSlice kube-system/kube-dns-a`},
		{name: "own slice name elsewhere", user: &nodeA,
			attrs: attrs(registry.Create, slicesGVR, "", dnsSlice("ns1", "kube-dns-a"), nil),
			want:  `node "a" can only write its own EndpointSlice kube-system/kube-dns-a`},
		{name: "delete other slice", user: &nodeA,
			attrs: attrs(registry.Delete, slicesGVR, "", nil, dnsSlice("kube-system", "kube-dns-b")),
			want:  `node "a" can only write its own EndpointSlice kube-system/kube-dns-a`},
		{name: "endpoints of another service", user: &nodeA, attrs: attrs(registry.Create, slicesGVR, "",
			dnsSlice("kube-system", "kube-dns-a", func(s *discoveryv1.EndpointSlice) {
				s.Labels[discoveryv1.LabelServiceName] = "kubernetes"
			}), nil), want: `node "a" can only publish endpoints of the kube-dns Service`},
		{name: "endpoint on another node", user: &nodeA, attrs: attrs(registry.Update, slicesGVR, "",
			dnsSlice("kube-system", "kube-dns-a", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].NodeName = ptr.To("b") }),
			dnsSlice("kube-system", "kube-dns-a")), want: `node "a" can only publish endpoints with nodeName set to itself`},
		{name: "endpoint on no node", user: &nodeA, attrs: attrs(registry.Create, slicesGVR, "",
			dnsSlice("kube-system", "kube-dns-a", func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].NodeName = nil }), nil),
			want: `node "a" can only publish endpoints with nodeName set to itself`},

		// Unchanged.
		{name: "create an event", user: &nodeA, attrs: attrs(registry.Create, eventsGVR, "", &corev1.Event{}, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.user != nil {
				ctx = authn.WithUser(ctx, *tc.user)
			}
			cfg := Config{GetPod: getPod}
			if tc.noGetPod {
				cfg.GetPod = nil
			}
			err := New(cfg)(ctx, tc.attrs)
			switch {
			case tc.notFound:
				if !apierrors.IsNotFound(err) {
					t.Fatalf("got %v, want NotFound", err)
				}
			case tc.want == "":
				if err != nil {
					t.Fatalf("got %v, want admitted", err)
				}
			case !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %v, want 403 with %q", err, tc.want)
			}
		})
	}
}

func TestForbiddenNamesTheObject(t *testing.T) {
	ctx := authn.WithUser(context.Background(), nodeA)
	err := New(Config{})(ctx, attrs(registry.Delete, podsGVR, "", nil, pod("pod-b", "b")))
	want := `pods "pod-b" is forbidden: node "a" can only delete pods with spec.nodeName set to itself`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
