package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/controller/loadbalancer"
)

func nodeUser(name string) authn.User {
	return authn.User{Name: UserPrefix + name, Groups: []string{Group, authn.GroupAuthenticated}}
}

// podA runs on node a and references one object of every kind a pod can.
func podA() *corev1.Pod {
	secretEnv := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: "S", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "k"}}}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "pod-a", UID: "uid-a"},
		Spec: corev1.PodSpec{
			NodeName:           "a",
			ServiceAccountName: "sa-a",
			ImagePullSecrets:   []corev1.LocalObjectReference{{Name: "pull-secret"}},
			InitContainers:     []corev1.Container{{Name: "init", Env: []corev1.EnvVar{secretEnv("init-secret")}}},
			Containers: []corev1.Container{{
				Name: "c",
				Env: []corev1.EnvVar{secretEnv("env-secret"), {Name: "C", ValueFrom: &corev1.EnvVarSource{
					ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "env-cm"}, Key: "k"}}}},
				EnvFrom: []corev1.EnvFromSource{
					{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "envfrom-secret"}}},
					{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "envfrom-cm"}}},
				},
			}},
			EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Env: []corev1.EnvVar{secretEnv("debug-secret")}}}},
			Volumes: []corev1.Volume{
				{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}}},
				{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "vol-cm"}}}},
				{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-secret"}}},
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "proj-cm"}}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				}}}},
				{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: "claim-a"}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{}}},
				{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d",
					NodePublishSecretRef: &corev1.LocalObjectReference{Name: "csi-secret"}}}},
			},
		},
	}
}

func podB() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "pod-b", UID: "uid-b"},
		Spec: corev1.PodSpec{NodeName: "b", ServiceAccountName: "sa-b", Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "b-secret"}}}}},
	}
}

// pendingPod is bound to no node yet.
func pendingPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns1", Name: "pending", UID: "uid-p"},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "pending-secret"}}}}},
	}
}

// pvA is bound to pod-a's claim and mounts with a Secret of its own.
func pvA() *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-a"},
		Spec: corev1.PersistentVolumeSpec{
			ClaimRef: &corev1.ObjectReference{Namespace: "ns1", Name: "claim-a"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d",
				NodeStageSecretRef: &corev1.SecretReference{Name: "pv-secret"}}},
		},
	}
}

// start returns an authorizer over informers of a fake clientset holding
// objs, synced.
func start(t *testing.T, objs ...runtime.Object) (*Authorizer, kubernetes.Interface) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	z, err := New(Config{Informers: factory, PersistentVolumes: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		factory.Shutdown()
	})
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), z.HasSynced) {
		t.Fatal("informers never synced")
	}
	return z, client
}

func res(verb, group, resource, ns, name string) authz.Attributes {
	a := authz.Attributes{ResourceRequest: true, Verb: verb, Group: group, Resource: resource, Namespace: ns, Name: name}
	if r, sub, ok := strings.Cut(resource, "/"); ok {
		a.Resource, a.Subresource = r, sub
	}
	return a
}

const noRelation = "no relationship found between node 'a' and this object"

func TestAuthorize(t *testing.T) {
	z, _ := start(t, podA(), podB(), pendingPod(), pvA())
	a := nodeUser("a")
	tests := []struct {
		name  string
		user  authn.User
		attrs authz.Attributes
		want  bool
		// reason, when set, must be the reason of the decision.
		reason string
	}{
		// Secrets and ConfigMaps of the node's pods.
		{name: "secret volume", user: a, attrs: res("get", "", "secrets", "ns1", "vol-secret"), want: true},
		{name: "secret env", user: a, attrs: res("get", "", "secrets", "ns1", "env-secret"), want: true},
		{name: "secret envFrom", user: a, attrs: res("get", "", "secrets", "ns1", "envfrom-secret"), want: true},
		{name: "secret init container env", user: a, attrs: res("get", "", "secrets", "ns1", "init-secret"), want: true},
		{name: "secret ephemeral container env", user: a, attrs: res("get", "", "secrets", "ns1", "debug-secret"), want: true},
		{name: "imagePullSecret", user: a, attrs: res("get", "", "secrets", "ns1", "pull-secret"), want: true},
		{name: "secret projected", user: a, attrs: res("get", "", "secrets", "ns1", "proj-secret"), want: true},
		{name: "secret of a CSI volume", user: a, attrs: res("get", "", "secrets", "ns1", "csi-secret"), want: true},
		{name: "secret of a bound PV", user: a, attrs: res("get", "", "secrets", "ns1", "pv-secret"), want: true},
		{name: "secret list one by name", user: a, attrs: res("list", "", "secrets", "ns1", "vol-secret"), want: true},
		{name: "secret watch one by name", user: a, attrs: res("watch", "", "secrets", "ns1", "vol-secret"), want: true},
		{name: "configmap volume", user: a, attrs: res("get", "", "configmaps", "ns1", "vol-cm"), want: true},
		{name: "configmap env", user: a, attrs: res("get", "", "configmaps", "ns1", "env-cm"), want: true},
		{name: "configmap envFrom", user: a, attrs: res("get", "", "configmaps", "ns1", "envfrom-cm"), want: true},
		{name: "configmap projected", user: a, attrs: res("get", "", "configmaps", "ns1", "proj-cm"), want: true},
		{name: "secret of another node's pod", user: a, attrs: res("get", "", "secrets", "ns1", "b-secret"), reason: noRelation},
		{name: "other node reads its own", user: nodeUser("b"), attrs: res("get", "", "secrets", "ns1", "b-secret"), want: true},
		{name: "other node reads a's", user: nodeUser("b"), attrs: res("get", "", "secrets", "ns1", "vol-secret"),
			reason: "no relationship found between node 'b' and this object"},
		{name: "secret of a pending pod", user: a, attrs: res("get", "", "secrets", "ns1", "pending-secret"), reason: noRelation},
		{name: "same name in another namespace", user: a, attrs: res("get", "", "secrets", "ns2", "vol-secret"), reason: noRelation},
		{name: "list all secrets", user: a, attrs: res("list", "", "secrets", "ns1", ""), reason: "No Object name found"},
		{name: "watch all secrets", user: a, attrs: res("watch", "", "secrets", "", ""),
			reason: "can only read namespaced object of this type"},
		{name: "update a related secret", user: a, attrs: res("update", "", "secrets", "ns1", "vol-secret"),
			reason: "can only read resources of this type"},
		{name: "create a secret", user: a, attrs: res("create", "", "secrets", "ns1", ""), reason: "can only read resources of this type"},
		{name: "configmap of another node", user: a, attrs: res("get", "", "configmaps", "ns1", "b-cm"), reason: noRelation},

		// Claims and volumes.
		{name: "claim", user: a, attrs: res("get", "", "persistentvolumeclaims", "ns1", "claim-a"), want: true},
		{name: "ephemeral claim", user: a, attrs: res("get", "", "persistentvolumeclaims", "ns1", "pod-a-scratch"), want: true},
		{name: "bound volume", user: a, attrs: res("get", "", "persistentvolumes", "", "pv-a"), want: true},
		{name: "volume of another node", user: nodeUser("b"), attrs: res("get", "", "persistentvolumes", "", "pv-a"),
			reason: "no relationship found between node 'b' and this object"},
		{name: "list volumes", user: a, attrs: res("list", "", "persistentvolumes", "", ""), reason: "No Object name found"},

		// ServiceAccount tokens.
		{name: "token of own pod's account", user: a, attrs: res("create", "", "serviceaccounts/token", "ns1", "sa-a"), want: true},
		{name: "token of another node's account", user: a, attrs: res("create", "", "serviceaccounts/token", "ns1", "sa-b"),
			reason: noRelation},
		{name: "get own pod's account", user: a, attrs: res("get", "", "serviceaccounts", "ns1", "sa-a"),
			reason: "can only create tokens for individual service accounts"},
		{name: "token without a name", user: a, attrs: res("create", "", "serviceaccounts/token", "ns1", ""),
			reason: "can only create tokens for individual service accounts"},
		{name: "create an account", user: a, attrs: res("create", "", "serviceaccounts", "ns1", "sa-a"),
			reason: "can only create token subresource of serviceaccount"},

		// Nodes.
		{name: "get own node", user: a, attrs: res("get", "", "nodes", "", "a"), want: true},
		{name: "get other node", user: a, attrs: res("get", "", "nodes", "", "b"), want: true},
		{name: "list nodes", user: a, attrs: res("list", "", "nodes", "", ""), want: true},
		{name: "watch nodes", user: a, attrs: res("watch", "", "nodes", "", ""), want: true},
		{name: "create a node", user: a, attrs: res("create", "", "nodes", "", ""), want: true},
		{name: "create own node by name", user: a, attrs: res("create", "", "nodes", "", "a"), want: true},
		{name: "create other node by name", user: a, attrs: res("create", "", "nodes", "", "b"),
			reason: "node 'a' can only read Nodes and create, update or patch its own Node and its status"},
		{name: "update own node", user: a, attrs: res("update", "", "nodes", "", "a"), want: true},
		{name: "patch own node", user: a, attrs: res("patch", "", "nodes", "", "a"), want: true},
		{name: "update other node", user: a, attrs: res("update", "", "nodes", "", "b"),
			reason: "node 'a' can only read Nodes and create, update or patch its own Node and its status"},
		{name: "update own status", user: a, attrs: res("update", "", "nodes/status", "", "a"), want: true},
		{name: "patch own status", user: a, attrs: res("patch", "", "nodes/status", "", "a"), want: true},
		{name: "patch other status", user: a, attrs: res("patch", "", "nodes/status", "", "b"),
			reason: "node 'a' can only read Nodes and create, update or patch its own Node and its status"},
		{name: "delete own node", user: a, attrs: res("delete", "", "nodes", "", "a"),
			reason: "node 'a' can only read Nodes and create, update or patch its own Node and its status"},
		{name: "proxy to other node", user: a, attrs: res("get", "", "nodes/proxy", "", "b"),
			reason: "node 'a' can only read Nodes and create, update or patch its own Node and its status"},

		// Leases.
		{name: "get own lease", user: a, attrs: res("get", "coordination.k8s.io", "leases", "kube-node-lease", "a"), want: true},
		{name: "create a lease", user: a, attrs: res("create", "coordination.k8s.io", "leases", "kube-node-lease", ""), want: true},
		{name: "update own lease", user: a, attrs: res("update", "coordination.k8s.io", "leases", "kube-node-lease", "a"), want: true},
		{name: "update other lease", user: a, attrs: res("update", "coordination.k8s.io", "leases", "kube-node-lease", "b"),
			reason: `node 'a' can only get, create, update, patch or delete its own Lease in the "kube-node-lease" namespace`},
		{name: "own name elsewhere", user: a, attrs: res("get", "coordination.k8s.io", "leases", "default", "a"),
			reason: `node 'a' can only get, create, update, patch or delete its own Lease in the "kube-node-lease" namespace`},
		{name: "list leases", user: a, attrs: res("list", "coordination.k8s.io", "leases", "kube-node-lease", ""),
			reason: `node 'a' can only get, create, update, patch or delete its own Lease in the "kube-node-lease" namespace`},

		// Pods: NodeRestriction checks the writes.
		{name: "list all pods", user: a, attrs: res("list", "", "pods", "", ""), want: true},
		{name: "watch pods", user: a, attrs: res("watch", "", "pods", "ns1", ""), want: true},
		{name: "get other node's pod", user: a, attrs: res("get", "", "pods", "ns1", "pod-b"), want: true},
		{name: "delete a pod", user: a, attrs: res("delete", "", "pods", "ns1", "pod-a"), want: true},
		{name: "create a pod", user: a, attrs: res("create", "", "pods", "ns1", ""), want: true},
		{name: "update pod status", user: a, attrs: res("update", "", "pods/status", "ns1", "pod-a"), want: true},
		{name: "patch pod status", user: a, attrs: res("patch", "", "pods/status", "ns1", "pod-a"), want: true},
		{name: "evict a pod", user: a, attrs: res("create", "", "pods/eviction", "ns1", "pod-a"), want: true},
		{name: "update a pod", user: a, attrs: res("update", "", "pods", "ns1", "pod-a")},
		{name: "exec into a pod", user: a, attrs: res("create", "", "pods/exec", "ns1", "pod-a")},
		{name: "bind a pod", user: a, attrs: res("create", "", "pods/binding", "ns1", "pod-a")},

		// What the proxy, DNS server and announcer read.
		{name: "list services", user: a, attrs: res("list", "", "services", "", ""), want: true},
		{name: "watch endpointslices", user: a, attrs: res("watch", "discovery.k8s.io", "endpointslices", "", ""), want: true},
		{name: "watch namespaces", user: a, attrs: res("watch", "", "namespaces", "", ""), want: true},
		{name: "get a namespace", user: a, attrs: res("get", "", "namespaces", "", "ns1")},
		{name: "get pools", user: a, attrs: res("get", "", "configmaps", "kube-system", "svcnet-loadbalancer-pools"), want: true},
		{name: "watch pools by name", user: a, attrs: res("watch", "", "configmaps", "kube-system", "svcnet-loadbalancer-pools"),
			want: true},
		{name: "list kube-system configmaps", user: a, attrs: res("list", "", "configmaps", "kube-system", ""),
			reason: "No Object name found"},
		{name: "pools name elsewhere", user: a, attrs: res("get", "", "configmaps", "default", "svcnet-loadbalancer-pools"),
			reason: noRelation},
		{name: "update pools", user: a, attrs: res("update", "", "configmaps", "kube-system", "svcnet-loadbalancer-pools"),
			reason: "can only read resources of this type"},
		{name: "update a service", user: a, attrs: res("update", "", "services", "ns1", "s")},

		// The node's kube-dns EndpointSlice.
		{name: "get own dns slice", user: a, attrs: res("get", "discovery.k8s.io", "endpointslices", "kube-system", "kube-dns-a"),
			want: true},
		{name: "create a dns slice", user: a, attrs: res("create", "discovery.k8s.io", "endpointslices", "kube-system", ""),
			want: true},
		{name: "update own dns slice", user: a, attrs: res("update", "discovery.k8s.io", "endpointslices", "kube-system", "kube-dns-a"),
			want: true},
		{name: "update other dns slice", user: a,
			attrs: res("update", "discovery.k8s.io", "endpointslices", "kube-system", "kube-dns-b")},
		{name: "create a slice elsewhere", user: a, attrs: res("create", "discovery.k8s.io", "endpointslices", "ns1", "")},
		{name: "delete own dns slice", user: a,
			attrs: res("delete", "discovery.k8s.io", "endpointslices", "kube-system", "kube-dns-a")},

		// Events.
		{name: "create core event", user: a, attrs: res("create", "", "events", "ns1", ""), want: true},
		{name: "patch core event", user: a, attrs: res("patch", "", "events", "ns1", "e"), want: true},
		{name: "create events.k8s.io event", user: a, attrs: res("create", "events.k8s.io", "events", "ns1", ""), want: true},
		{name: "delete an event", user: a, attrs: res("delete", "", "events", "ns1", "e")},
		{name: "list events", user: a, attrs: res("list", "", "events", "ns1", "")},

		// Everything else.
		{name: "list deployments", user: a, attrs: res("list", "apps", "deployments", "", "")},
		{name: "non-resource", user: a, attrs: authz.Attributes{Verb: "get", Path: "/api"}},

		// Users that are not nodes.
		{name: "plain user", user: authn.User{Name: "alice", Groups: []string{Group}}, attrs: res("list", "", "pods", "", "")},
		{name: "node name without group", user: authn.User{Name: "system:node:a", Groups: []string{authn.GroupAuthenticated}},
			attrs: res("get", "", "secrets", "ns1", "vol-secret")},
		{name: "masters", user: authn.User{Name: "admin", Groups: []string{"system:masters"}}, attrs: res("get", "", "nodes", "", "a")},
		{name: "node without a name", user: nodeUser(""), attrs: res("get", "", "nodes", "", "a"),
			reason: `unknown node for user "system:node:"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.attrs.User = tc.user
			d := z.Authorize(context.Background(), tc.attrs)
			if d.Allowed != tc.want || d.Denied {
				t.Fatalf("got %+v, want allowed %v (never denied)", d, tc.want)
			}
			if tc.reason != "" && d.Reason != tc.reason {
				t.Errorf("got reason %q, want %q", d.Reason, tc.reason)
			}
		})
	}
}

// eventually polls cond until it holds, failing t after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestGraphFollowsInformers(t *testing.T) {
	z, client := start(t, podA(), pvA())
	ctx := context.Background()
	allowed := func(node string, attrs authz.Attributes) func() bool {
		return func() bool {
			attrs.User = nodeUser(node)
			return z.Authorize(ctx, attrs).Allowed
		}
	}
	not := func(f func() bool) func() bool { return func() bool { return !f() } }
	secret := res("get", "", "secrets", "ns1", "vol-secret")
	token := res("create", "", "serviceaccounts/token", "ns1", "sa-a")
	volume := res("get", "", "persistentvolumes", "", "pv-a")

	steps := []struct {
		name   string
		change func() error
		cond   func() bool
	}{
		{name: "pod bound to a", change: func() error { return nil }, cond: allowed("a", secret)},
		{
			name: "pod re-created on b",
			change: func() error {
				p := podA()
				p.UID, p.Spec.NodeName = "uid-a2", "b"
				_, err := client.CoreV1().Pods("ns1").Update(ctx, p, metav1.UpdateOptions{})
				return err
			},
			cond: func() bool {
				return allowed("b", secret)() && allowed("b", token)() && allowed("b", volume)() &&
					!allowed("a", secret)() && !allowed("a", token)() && !allowed("a", volume)()
			},
		},
		{
			name:   "volume deleted",
			change: func() error { return client.CoreV1().PersistentVolumes().Delete(ctx, "pv-a", metav1.DeleteOptions{}) },
			cond:   not(allowed("b", volume)),
		},
		{
			name:   "pod deleted",
			change: func() error { return client.CoreV1().Pods("ns1").Delete(ctx, "pod-a", metav1.DeleteOptions{}) },
			cond:   func() bool { return !allowed("b", secret)() && !allowed("b", token)() },
		},
		{
			name: "new pod on a",
			change: func() error {
				_, err := client.CoreV1().Pods("ns1").Create(ctx, podA(), metav1.CreateOptions{})
				return err
			},
			cond: allowed("a", token),
		},
	}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		eventually(t, s.name, s.cond)
	}
}

func TestGraphCountsPods(t *testing.T) {
	g := newGraph()
	secret := ref{kind: kindSecret, namespace: "ns1", name: "shared"}
	one := types.NamespacedName{Namespace: "ns1", Name: "one"}
	two := types.NamespacedName{Namespace: "ns1", Name: "two"}
	g.setPod(one, "u1", "a", []ref{secret})
	g.setPod(two, "u2", "a", []ref{secret})
	steps := []struct {
		name   string
		change func()
		want   bool
	}{
		{name: "two pods", change: func() {}, want: true},
		{name: "stale delete of one", change: func() { g.deletePod(one, "u-old") }, want: true},
		{name: "one deleted", change: func() { g.deletePod(one, "u1") }, want: true},
		{name: "two unbound", change: func() { g.setPod(two, "u2", "", []ref{secret}) }, want: false},
		{name: "two rebound", change: func() { g.setPod(two, "u2", "a", []ref{secret}) }, want: true},
		{name: "two no longer references it", change: func() { g.setPod(two, "u2", "a", nil) }, want: false},
	}
	for _, s := range steps {
		s.change()
		if got := g.related("a", secret); got != s.want {
			t.Fatalf("%s: got related %v, want %v", s.name, got, s.want)
		}
	}
	if len(g.byNode) != 0 || len(g.pods) != 1 {
		t.Errorf("got %d nodes and %d pods left, want 0 and 1", len(g.byNode), len(g.pods))
	}
}

func TestPodRefs(t *testing.T) {
	got := podRefs(podA())
	s := func(name string) ref { return ref{kind: kindSecret, namespace: "ns1", name: name} }
	c := func(name string) ref { return ref{kind: kindConfigMap, namespace: "ns1", name: name} }
	want := []ref{
		s("csi-secret"), s("debug-secret"), s("env-secret"), s("envfrom-secret"), s("init-secret"),
		s("proj-secret"), s("pull-secret"), s("vol-secret"),
		c("env-cm"), c("envfrom-cm"), c("proj-cm"), c("vol-cm"),
		{kind: kindServiceAccount, namespace: "ns1", name: "sa-a"},
		{kind: kindPVC, namespace: "ns1", name: "claim-a"}, {kind: kindPVC, namespace: "ns1", name: "pod-a-scratch"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(ref{})); diff != "" {
		t.Errorf("podRefs (-want +got):\n%s", diff)
	}
}

func TestRulesFor(t *testing.T) {
	z, _ := start(t)
	ctx := context.Background()
	has := func(rules []authz.Rule, resource string, names ...string) bool {
		for _, r := range rules {
			if r.Resources[0] == resource && slices.Equal(r.ResourceNames, names) {
				return true
			}
		}
		return false
	}
	rules, nonRes, incomplete := z.RulesFor(ctx, nodeUser("a"), "kube-node-lease")
	if !incomplete || len(nonRes) != 0 {
		t.Errorf("got incomplete %v and %d non-resource rules, want true and 0", incomplete, len(nonRes))
	}
	if !has(rules, "leases", "a") || !has(rules, "nodes", "a") || !has(rules, "pods") {
		t.Errorf("rules in kube-node-lease lack the own lease, own node or pods: %+v", rules)
	}
	rules, _, _ = z.RulesFor(ctx, nodeUser("a"), "kube-system")
	if has(rules, "leases", "a") || !has(rules, "configmaps", poolsConfigMap) || !has(rules, "endpointslices", "kube-dns-a") {
		t.Errorf("rules in kube-system: %+v", rules)
	}
	if r, n, inc := z.RulesFor(ctx, authn.User{Name: "alice"}, "default"); r != nil || n != nil || inc {
		t.Errorf("got %v %v %v for a user that is not a node, want nothing", r, n, inc)
	}
}

func TestNamesMatchTheirOwners(t *testing.T) {
	if poolsNamespace != loadbalancer.PoolsNamespace || poolsConfigMap != loadbalancer.PoolsConfigMap {
		t.Errorf("got pools %s/%s, want %s/%s", poolsNamespace, poolsConfigMap, loadbalancer.PoolsNamespace, loadbalancer.PoolsConfigMap)
	}
}

func TestIdentity(t *testing.T) {
	tests := []struct {
		user   authn.User
		name   string
		isNode bool
	}{
		{user: nodeUser("a"), name: "a", isNode: true},
		{user: nodeUser(""), name: "", isNode: true},
		{user: authn.User{Name: "system:node:a"}},
		{user: authn.User{Name: "a", Groups: []string{Group}}},
		{user: authn.User{Name: "system:nodes:a", Groups: []string{Group}}},
	}
	for _, tc := range tests {
		t.Run(tc.user.Name, func(t *testing.T) {
			name, isNode := Identity(tc.user)
			if name != tc.name || isNode != tc.isNode {
				t.Errorf("got %q %v, want %q %v", name, isNode, tc.name, tc.isNode)
			}
		})
	}
}
