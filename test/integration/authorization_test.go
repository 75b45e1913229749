package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/svcnet/svcnet/internal/join/nodecert"
	"github.com/svcnet/svcnet/internal/pki"
	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestAuthorization shows RBAC enforced as on Kubernetes: a user with no
// binding may only discover and review itself; a binding in a namespace
// grants there only; nobody grants more than they hold (escalation
// checks); impersonation needs the impersonate verb; a pod's
// ServiceAccount has no rights beyond discovery; the join token may only
// ask for a node certificate.
func TestAuthorization(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	admin := func(args ...string) string { return ts.MustKubectl(t, "", "", args...) }
	admin("create", "namespace", "team")
	alice := ts.NewUser(t, "alice", "developers")
	as := func(u *framework.User, args ...string) (string, error) { return ts.KubectlAs(t, u, args...) }
	forbidden := func(t *testing.T, err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), "Forbidden") && !strings.Contains(err.Error(), "forbidden") ||
			!strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want 403 saying %q", err, want)
		}
	}

	t.Run("no binding", func(t *testing.T) {
		_, err := as(alice, "get", "pods", "-n", "team")
		forbidden(t, err, `User "alice" cannot list resource "pods" in API group "" in the namespace "team"`)
		who, err := as(alice, "auth", "whoami")
		if err != nil || !strings.Contains(who, "alice") || !strings.Contains(who, "developers") {
			t.Errorf("kubectl auth whoami: %q %v", who, err)
		}
		if out, _ := as(alice, "auth", "can-i", "list", "pods", "-n", "team"); strings.TrimSpace(out) != "no" {
			t.Errorf("can-i list pods without a binding: %q", out)
		}
		list, err := as(alice, "auth", "can-i", "--list", "-n", "team")
		if err != nil || !strings.Contains(list, "selfsubjectaccessreviews.authorization.k8s.io") || strings.Contains(list, "pods ") {
			t.Errorf("kubectl auth can-i --list:\n%s %v", list, err)
		}
		if _, err := alice.Client.Discovery().ServerGroups(); err != nil {
			t.Errorf("discovery: %v", err)
		}
	})

	admin("create", "rolebinding", "alice-admin", "--clusterrole=admin", "--user=alice", "-n", "team")
	// admin, edit and view are built by aggregation: wait until it grants.
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := as(alice, "get", "pods", "-n", "team")
		return err
	})
	t.Run("binding in a namespace", func(t *testing.T) {
		if _, err := as(alice, "run", "web", "--image=nginx", "-n", "team"); err != nil {
			t.Errorf("alice creates a pod where she is admin: %v", err)
		}
		_, err := as(alice, "get", "secrets", "-n", "default")
		forbidden(t, err, `cannot list resource "secrets" in API group "" in the namespace "default"`)
		_, err = as(alice, "get", "nodes")
		forbidden(t, err, "at the cluster scope")
		if out := admin("auth", "can-i", "create", "deployments.apps", "-n", "team", "--as", "alice"); strings.TrimSpace(out) != "yes" {
			t.Errorf("can-i --as alice: %q", out)
		}
	})

	t.Run("escalation", func(t *testing.T) {
		if _, err := as(alice, "create", "rolebinding", "bob-edit", "--clusterrole=edit", "--user=bob", "-n", "team"); err != nil {
			t.Errorf("alice binds bob to edit, which she holds: %v", err)
		}
		_, err := as(alice, "create", "rolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob", "-n", "team")
		forbidden(t, err, "attempting to grant RBAC permissions not currently held")
		_, err = as(alice, "create", "role", "node-reader", "--verb=get", "--resource=nodes", "-n", "team")
		forbidden(t, err, "attempting to grant RBAC permissions not currently held")
		_, err = as(alice, "create", "clusterrolebinding", "alice-root", "--clusterrole=cluster-admin", "--user=alice")
		forbidden(t, err, "clusterrolebindings")
		// With bind on cluster-admin she may bind it without holding it.
		admin("create", "clusterrole", "bind-root", "--verb=bind", "--resource=clusterroles", "--resource-name=cluster-admin")
		admin("create", "rolebinding", "alice-bind-root", "--clusterrole=bind-root", "--user=alice", "-n", "team")
		framework.Eventually(t, 30*time.Second, func() error {
			_, err := as(alice, "create", "rolebinding", "bob-root", "--clusterrole=cluster-admin", "--user=bob", "-n", "team")
			return err
		})
	})

	t.Run("impersonation", func(t *testing.T) {
		_, err := as(alice, "get", "pods", "-n", "team", "--as", "bob")
		forbidden(t, err, `User "alice" cannot impersonate resource "users" in API group "" at the cluster scope`)
		if _, err := ts.Kubectl(t, "", "", "get", "pods", "-n", "team", "--as", "alice"); err != nil {
			t.Errorf("admin as alice in team: %v", err)
		}
		_, err = ts.Kubectl(t, "", "", "get", "pods", "-n", "default", "--as", "alice")
		forbidden(t, err, `User "alice" cannot list resource "pods"`)
		who := admin("auth", "whoami", "--as", "alice", "--as-group", "qa")
		if !strings.Contains(who, "alice") || !strings.Contains(who, "qa") || strings.Contains(who, "system:masters") {
			t.Errorf("whoami as alice:\n%s", who)
		}
	})

	t.Run("service account", func(t *testing.T) {
		admin("create", "serviceaccount", "robot", "-n", "team")
		tok := strings.TrimSpace(admin("create", "token", "robot", "-n", "team"))
		cfg := rest.AnonymousClientConfig(ts.Config)
		cfg.BearerToken = tok
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods("team").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("a ServiceAccount without a binding lists pods: got %v, want 403", err)
		}
		if _, err := c.Discovery().ServerVersion(); err != nil {
			t.Errorf("a ServiceAccount without a binding reads /version: %v", err)
		}
	})

	t.Run("join token", func(t *testing.T) {
		join := joinTokenClient(t, ts)
		if _, err := join.CoreV1().Secrets("").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("join token lists Secrets: got %v, want 403", err)
		}
		if _, err := join.CoreV1().Pods("team").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "evil"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("join token creates a pod: got %v, want 403", err)
		}
		if err := join.CoreV1().Nodes().Delete(ctx, "any", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
			t.Errorf("join token deletes a Node: got %v, want 403", err)
		}
		if _, err := join.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{}); err != nil {
			t.Errorf("join token lists CSRs (what bootstrapping needs): %v", err)
		}
	})
}

// joinTokenClient authenticates with the server's join token alone.
func joinTokenClient(t *testing.T, ts *framework.TestServer) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(joinTokenConfig(t, ts))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// joinTokenConfig is the client configuration of the join token.
func joinTokenConfig(t *testing.T, ts *framework.TestServer) *rest.Config {
	t.Helper()
	_, secret, err := pki.ParseToken(ts.Server.JoinToken())
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(ts.Config)
	cfg.BearerToken = secret
	return cfg
}

// TestNodeAuthorization: a node's own identity (system:node:<name>)
// reads only the Secrets of its pods, changes only its own Node and its
// pods' status, and cannot delete Nodes or list Secrets.
func TestNodeAuthorization(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{Modify: func(c *server.Config) { c.Disable = []string{"agent", "dns", "proxy"} }})
	for _, n := range []string{"node-a", "node-b"} {
		if _, err := ts.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}},
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	secrets := ts.Client.CoreV1().Secrets("default")
	pods := ts.Client.CoreV1().Pods("default")
	for _, n := range []string{"a", "b"} {
		if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "secret-" + n},
			StringData: map[string]string{"k": n}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "pod-" + n}, Spec: corev1.PodSpec{
			NodeName: "node-" + n,
			Volumes: []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{SecretName: "secret-" + n}}}},
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	nodeA := ts.NewUser(t, "system:node:node-a", "system:nodes").Client
	// The authorizer's graph follows pods through a watch.
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := nodeA.CoreV1().Secrets("default").Get(ctx, "secret-a", metav1.GetOptions{})
		return err
	})
	checks := []struct {
		name string
		do   func() error
	}{
		{"another node's pod's Secret", func() error {
			_, err := nodeA.CoreV1().Secrets("default").Get(ctx, "secret-b", metav1.GetOptions{})
			return err
		}},
		{"list all Secrets", func() error {
			_, err := nodeA.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"delete another Node", func() error {
			return nodeA.CoreV1().Nodes().Delete(ctx, "node-b", metav1.DeleteOptions{})
		}},
		{"change another Node", func() error {
			_, err := nodeA.CoreV1().Nodes().Patch(ctx, "node-b", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}},
		{"status of another node's pod", func() error {
			_, err := nodeA.CoreV1().Pods("default").Patch(ctx, "pod-b", types.MergePatchType,
				[]byte(`{"status":{"phase":"Failed"}}`), metav1.PatchOptions{}, "status")
			return err
		}},
		{"create a pod", func() error {
			_, err := nodeA.CoreV1().Pods("default").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"},
				Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}},
				metav1.CreateOptions{})
			return err
		}},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !apierrors.IsForbidden(err) {
				t.Errorf("got %v, want 403", err)
			}
		})
	}
	allowed := []struct {
		name string
		do   func() error
	}{
		{"its own Node", func() error {
			_, err := nodeA.CoreV1().Nodes().Patch(ctx, "node-a", types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		}},
		{"its pod's status", func() error {
			_, err := nodeA.CoreV1().Pods("default").Patch(ctx, "pod-a", types.MergePatchType,
				[]byte(`{"status":{"phase":"Running"}}`), metav1.PatchOptions{}, "status")
			return err
		}},
		{"services", func() error {
			_, err := nodeA.CoreV1().Services("").List(ctx, metav1.ListOptions{})
			return err
		}},
	}
	for _, tc := range allowed {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); err != nil {
				t.Errorf("got %v, want allowed", err)
			}
		})
	}
	// Once the pod is gone, so is the node's access to its Secret.
	if err := pods.Delete(ctx, "pod-a", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := nodeA.CoreV1().Secrets("default").Get(ctx, "secret-a", metav1.GetOptions{})
		if !apierrors.IsForbidden(err) {
			return fmt.Errorf("after its pod was deleted: got %v, want 403", err)
		}
		return nil
	})
}

// TestNodeBootstrap: the join token and a bootstrap token (a Secret in
// kube-system, as kubeadm makes them) each get a node its own client
// certificate through an auto-approved CSR, with which it registers only
// itself; once the bootstrap token's Secret is deleted the token
// authenticates no more, while the node's certificate goes on working.
func TestNodeBootstrap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts := framework.Start(t, framework.Options{})
	nodeC := bootstrapNode(ctx, t, joinTokenConfig(t, ts), "node-c")
	if _, err := nodeC.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-c"}},
		metav1.CreateOptions{}); err != nil {
		t.Errorf("node-c registers itself with its certificate: %v", err)
	}
	if _, err := nodeC.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-d"}},
		metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node-c registers node-d: got %v, want 403", err)
	}

	const id, secret = "abcdef", "0123456789abcdef"
	if _, err := ts.Client.CoreV1().Secrets("kube-system").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{"token-id": id, "token-secret": secret, "usage-bootstrap-authentication": "true",
			"expiration": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	boot := rest.AnonymousClientConfig(ts.Config)
	boot.BearerToken = id + "." + secret
	var nodeE kubernetes.Interface
	framework.Eventually(t, 30*time.Second, func() error { // the authenticator reads Secrets through a watch
		_, err := kubernetes.NewForConfigOrDie(boot).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		return err
	})
	nodeE = bootstrapNode(ctx, t, boot, "node-e")
	if err := ts.Client.CoreV1().Secrets("kube-system").Delete(ctx, "bootstrap-token-"+id, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := kubernetes.NewForConfigOrDie(boot).CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{})
		if !apierrors.IsUnauthorized(err) {
			return fmt.Errorf("a deleted bootstrap token: got %v, want 401", err)
		}
		return nil
	})
	if _, err := nodeE.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-e"}},
		metav1.CreateOptions{}); err != nil {
		t.Errorf("node-e registers itself after its token was revoked: %v", err)
	}
}

// bootstrapNode gets node its client certificate the way an agent does
// (package nodecert) with the bootstrap client join, and returns a client
// authenticating with it.
func bootstrapNode(ctx context.Context, t *testing.T, join *rest.Config, node string) kubernetes.Interface {
	t.Helper()
	creds, err := nodecert.New(nodecert.Config{Bootstrap: join, NodeName: node, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := creds.Client(ctx)
	if err != nil {
		t.Fatalf("node %s bootstrapping: %v", node, err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go func() { _ = creds.Run(runCtx) }()
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
