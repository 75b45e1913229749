package integration

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"

	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// nextEvent waits for the next event of w that matches ok.
func nextEvent(t *testing.T, w watch.Interface, what string, ok func(watch.Event) bool) watch.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				t.Fatalf("watch closed waiting for %s", what)
			}
			if ok(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s after 30s", what)
		}
	}
}

func TestDefaultServiceCIDRAndClusterIPAddresses(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()
	net := ts.Client.NetworkingV1()

	// The default ServiceCIDR mirrors --service-cluster-ip-range, Ready.
	var def *networkingv1.ServiceCIDR
	framework.Eventually(t, 30*time.Second, func() error {
		var err error
		if def, err = net.ServiceCIDRs().Get(ctx, "kubernetes", metav1.GetOptions{}); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(def.Status.Conditions, networkingv1.ServiceCIDRConditionReady) {
			return fmt.Errorf("default ServiceCIDR not Ready: %+v", def.Status)
		}
		return nil
	})
	if got := strings.Join(def.Spec.CIDRs, ","); got != "10.96.0.0/12" {
		t.Errorf("default ServiceCIDR: got CIDRs %s, want 10.96.0.0/12", got)
	}
	dyn := dynamic.NewForConfigOrDie(ts.Config)
	st, err := dyn.Resource(networkingv1.SchemeGroupVersion.WithResource("servicecidrs")).Get(ctx, "kubernetes", metav1.GetOptions{}, "status")
	if err != nil {
		t.Fatalf("get servicecidrs/status: %v", err)
	}
	if st.GetUID() != def.UID || st.GetKind() != "ServiceCIDR" {
		t.Errorf("servicecidrs/status: got kind %s UID %s, want ServiceCIDR %s", st.GetKind(), st.GetUID(), def.UID)
	}

	// The kubernetes Service's ClusterIP is an IPAddress.
	ip, err := net.IPAddresses().Get(ctx, "10.96.0.1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("IPAddress of the kubernetes Service: %v", err)
	}
	wantRef := networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "kubernetes"}
	if ip.Spec.ParentRef == nil || *ip.Spec.ParentRef != wantRef || ip.Labels[networkingv1.LabelManagedBy] != "ipallocator.k8s.io" ||
		ip.Labels[networkingv1.LabelIPAddressFamily] != "IPv4" || ip.UID == "" || ip.CreationTimestamp.IsZero() {
		t.Errorf("got IPAddress %+v, want one of services/default/kubernetes managed by ipallocator.k8s.io", ip)
	}

	// A Service's IPAddress comes and goes with it.
	list, err := net.IPAddresses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := net.IPAddresses().Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	svc, err := ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	added := nextEvent(t, w, "ADDED IPAddress of default/web", func(ev watch.Event) bool {
		ip, ok := ev.Object.(*networkingv1.IPAddress)
		return ok && ev.Type == watch.Added && ip.Name == svc.Spec.ClusterIP
	}).Object.(*networkingv1.IPAddress)
	if ref := added.Spec.ParentRef; ref == nil || ref.Namespace != "default" || ref.Name != "web" || ref.Resource != "services" {
		t.Errorf("got parentRef %+v, want services/default/web", ref)
	}

	// An address in use cannot be taken by a client's IPAddress, and a
	// client's IPAddress holds its address against Services.
	_, err = net.IPAddresses().Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: svc.Spec.ClusterIP},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Group: "gateway.example.com", Resource: "gateways", Name: "gw"}}},
		metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("IPAddress for an address in use: got %v, want AlreadyExists", err)
	}
	if _, err := net.IPAddresses().Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.96.0.77"},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Group: "gateway.example.com", Resource: "gateways", Name: "gw"}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatalf("IPAddress for a free address: %v", err)
	}
	_, err = ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "taken"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.77", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "provided IP is already allocated") {
		t.Errorf("Service asking for a client's IPAddress: got %v, want 422 provided IP is already allocated", err)
	}
	if _, err := net.IPAddresses().Get(ctx, "10.96.0.77", metav1.GetOptions{}); err != nil {
		t.Errorf("client's IPAddress after the refused Service: %v", err)
	}

	if err := ts.Client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w, "DELETED IPAddress of default/web", func(ev watch.Event) bool {
		ip, ok := ev.Object.(*networkingv1.IPAddress)
		return ok && ev.Type == watch.Deleted && ip.Name == svc.Spec.ClusterIP
	})
	if _, err := net.IPAddresses().Get(ctx, svc.Spec.ClusterIP, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("IPAddress after the Service was deleted: got %v, want NotFound", err)
	}
}

func TestIPAddressAPI(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()
	ips := ts.Client.NetworkingV1().IPAddresses()
	parent := &networkingv1.ParentReference{Group: "mygroup", Resource: "myresources", Namespace: "foo", Name: "bar"}
	created, err := ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "255.255.255.255",
		Labels: map[string]string{"type": "broadcast"}}, Spec: networkingv1.IPAddressSpec{ParentRef: parent}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "fe80::42:1dff:fe84:f9e2",
		Labels: map[string]string{"type": "link-local"}}, Spec: networkingv1.IPAddressSpec{ParentRef: parent}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = ips.Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "10.1.1.01"},
		Spec: networkingv1.IPAddressSpec{ParentRef: parent}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("non-canonical name: got %v, want 422 on metadata.name", err)
	}
	patched, err := ips.Patch(ctx, created.Name, types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || patched.ResourceVersion == created.ResourceVersion {
		t.Fatalf("patch: got %+v, %v", patched, err)
	}
	patched.Annotations["updated"] = "true"
	updated, err := ips.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil || updated.Annotations["updated"] != "true" {
		t.Fatalf("update: got %+v, %v", updated, err)
	}
	moved := updated.DeepCopy()
	moved.Spec.ParentRef.Name = "baz"
	if _, err := ips.Update(ctx, moved, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("parentRef change: got %v, want 422", err)
	}
	list, err := ips.List(ctx, metav1.ListOptions{LabelSelector: "type=broadcast"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list type=broadcast: got %v, %v, want one", list, err)
	}
	w, err := ips.Watch(ctx, metav1.ListOptions{LabelSelector: "type=broadcast", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := ips.Delete(ctx, created.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w, "DELETED 255.255.255.255", func(ev watch.Event) bool { return ev.Type == watch.Deleted })
	if err := ips.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "type=link-local"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ips.List(ctx, metav1.ListOptions{LabelSelector: "type=link-local"}); err != nil || len(list.Items) != 0 {
		t.Errorf("after deletecollection: got %v, %v, want none", list, err)
	}
}

func TestServiceCIDRAPI(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()
	cidrs := ts.Client.NetworkingV1().ServiceCIDRs()
	c, err := cidrs.Create(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra", Labels: map[string]string{"e2e": "x"}},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"203.0.113.0/24"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cidrs.Watch(ctx, metav1.ListOptions{LabelSelector: "e2e=x", ResourceVersion: c.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	changed := c.DeepCopy()
	changed.Spec.CIDRs = []string{"203.0.114.0/24"}
	if _, err := cidrs.Update(ctx, changed, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("changing spec.cidrs: got %v, want 422 field is immutable", err)
	}
	dual := c.DeepCopy()
	dual.Spec.CIDRs = append(dual.Spec.CIDRs, "2001:db8:cb00::/64")
	if c, err = cidrs.Update(ctx, dual, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("adding the other family: %v", err)
	}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionFalse,
		Reason: "Testing", Message: "status write"})
	c.Spec.CIDRs = []string{"198.51.100.0/24"} // ignored by a status write
	st, err := cidrs.UpdateStatus(ctx, c, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Spec.CIDRs) != 2 || len(st.Status.Conditions) != 1 {
		t.Errorf("status write: got spec %v status %v, want the stored spec and the new condition", st.Spec, st.Status)
	}
	st.Status = networkingv1.ServiceCIDRStatus{}
	if up, err := cidrs.Update(ctx, st, metav1.UpdateOptions{}); err != nil || len(up.Status.Conditions) != 1 {
		t.Errorf("spec write: got %v, %v, want the stored status kept", up, err)
	}
	nextEvent(t, w, "MODIFIED status", func(ev watch.Event) bool {
		c, ok := ev.Object.(*networkingv1.ServiceCIDR)
		return ok && ev.Type == watch.Modified && len(c.Status.Conditions) == 1
	})
	if err := cidrs.Delete(ctx, "extra", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, w, "DELETED", func(ev watch.Event) bool { return ev.Type == watch.Deleted })
}

func TestIngressAndIngressClassAPI(t *testing.T) {
	ts := framework.Start(t, framework.Options{})
	ctx := context.Background()

	// Discovery lists the group's resources as kube-apiserver does.
	rl, err := ts.Client.Discovery().ServerResourcesForGroupVersion("networking.k8s.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rl.APIResources {
		got[r.Name] = fmt.Sprintf("%s namespaced=%v short=%v", r.Kind, r.Namespaced, r.ShortNames)
	}
	for name, want := range map[string]string{
		"ingresses":           "Ingress namespaced=true short=[ing]",
		"ingresses/status":    "Ingress namespaced=true short=[]",
		"ingressclasses":      "IngressClass namespaced=false short=[]",
		"servicecidrs":        "ServiceCIDR namespaced=false short=[]",
		"servicecidrs/status": "ServiceCIDR namespaced=false short=[]",
		"ipaddresses":         "IPAddress namespaced=false short=[ip]",
	} {
		if got[name] != want {
			t.Errorf("discovery of %s: got %q, want %q", name, got[name], want)
		}
	}
	classes := ts.Client.NetworkingV1().IngressClasses()
	class, err := classes.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "example", Labels: map[string]string{"special-label": "x"}},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller",
			Parameters: &networkingv1.IngressClassParametersReference{Kind: "Params", Name: "p"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(class.Spec.Parameters.Scope, "") != "Cluster" {
		t.Errorf("got parameters scope %v, want the Cluster default", class.Spec.Parameters.Scope)
	}
	class.Spec.Controller = "example.com/other"
	if _, err := classes.Update(ctx, class, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("changing the controller: got %v, want 422", err)
	}
	if p, err := classes.Patch(ctx, "example", types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{}); err != nil || p.Annotations["patched"] != "true" {
		t.Errorf("patch ingress class: got %v, %v", p, err)
	}

	ings := ts.Client.NetworkingV1().Ingresses("default")
	newIngress := func(name string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"special-label": "x"}},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("example"), DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "default-backend", Port: networkingv1.ServiceBackendPort{Number: 8080}}}}}
	}
	var first *networkingv1.Ingress
	for _, name := range []string{"ingress1", "ingress2", "ingress3"} {
		ing, err := ings.Create(ctx, newIngress(name), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = ing
		}
	}
	bad := newIngress("bad")
	bad.Spec.DefaultBackend = nil
	if _, err := ings.Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "either `defaultBackend` or `rules` must be specified") {
		t.Errorf("ingress without backend: got %v, want 422", err)
	}
	list, err := ings.List(ctx, metav1.ListOptions{LabelSelector: "special-label=x"})
	if err != nil || len(list.Items) != 3 {
		t.Fatalf("list: got %v, %v, want 3", list, err)
	}
	w, err := ings.Watch(ctx, metav1.ListOptions{LabelSelector: "special-label=x", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patched, err := ings.Patch(ctx, "ingress1", types.MergePatchType, []byte(`{"metadata":{"annotations":{"patched":"true"}}}`), metav1.PatchOptions{})
	if err != nil || patched.Annotations["patched"] != "true" || patched.Generation != 1 {
		t.Fatalf("patch: got %+v, %v", patched, err)
	}
	patched.Spec.DefaultBackend.Service.Port.Number = 8081
	updated, err := ings.Update(ctx, patched, metav1.UpdateOptions{})
	if err != nil || updated.Generation != 2 {
		t.Fatalf("update: got %+v, %v; want generation 2", updated, err)
	}
	updated.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "169.1.1.1"}}
	updated.Spec.DefaultBackend = nil // ignored by a status write
	st, err := ings.UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil || len(st.Status.LoadBalancer.Ingress) != 1 || st.Spec.DefaultBackend == nil {
		t.Fatalf("update status: got %+v, %v", st, err)
	}
	st, err = ings.Patch(ctx, "ingress1", types.MergePatchType, []byte(`{"metadata":{"annotations":{"patchedstatus":"true"}},"status":{"loadBalancer":{"ingress":[{"ip":"169.1.1.2"}]}}}`),
		metav1.PatchOptions{}, "status")
	if err != nil || st.Annotations["patchedstatus"] != "true" || st.Status.LoadBalancer.Ingress[0].IP != "169.1.1.2" {
		t.Fatalf("patch status: got %+v, %v", st, err)
	}
	if _, err := ings.Patch(ctx, "ingress1", types.MergePatchType, []byte(`{"status":{"loadBalancer":{"ingress":[{"ip":"169.1.1.300"}]}}}`),
		metav1.PatchOptions{}, "status"); !apierrors.IsInvalid(err) {
		t.Errorf("invalid status IP: got %v, want 422", err)
	}
	nextEvent(t, w, "MODIFIED status", func(ev watch.Event) bool {
		ing, ok := ev.Object.(*networkingv1.Ingress)
		return ok && ev.Type == watch.Modified && ing.Name == "ingress1" && ing.Annotations["patchedstatus"] == "true"
	})
	out := ts.MustKubectl(t, framework.KubectlVersions[len(framework.KubectlVersions)-1], "", "get", "ing", "-n", "default", "ingress1")
	if !strings.Contains(out, "CLASS") || !strings.Contains(out, "ADDRESS") || !strings.Contains(out, "169.1.1.2") {
		t.Errorf("kubectl get ing: got\n%s\nwant upstream's columns", out)
	}
	t.Logf("kubectl get ing:\n%s", out)
	out = ts.MustKubectl(t, framework.KubectlVersions[len(framework.KubectlVersions)-1], "", "get", "servicecidrs,ipaddresses,ingressclasses")
	if !strings.Contains(out, "servicecidr.networking.k8s.io/kubernetes   10.96.0.0/12") || !strings.Contains(out, "services/default/kubernetes") {
		t.Errorf("kubectl get servicecidrs,ipaddresses: got\n%s\nwant upstream's columns", out)
	}
	t.Logf("kubectl get servicecidrs,ipaddresses,ingressclasses:\n%s", out)

	if err := ings.Delete(ctx, "ingress1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ings.Get(ctx, "ingress1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: got %v, want NotFound", err)
	}
	if err := ings.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "special-label=x"}); err != nil {
		t.Fatal(err)
	}
	if list, err := ings.List(ctx, metav1.ListOptions{LabelSelector: "special-label=x"}); err != nil || len(list.Items) != 0 {
		t.Errorf("after deletecollection: got %v, %v, want none", list, err)
	}
	if err := classes.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "special-label=x"}); err != nil {
		t.Fatal(err)
	}

	// kubectl apply validates against the served OpenAPI (strict).
	const manifest = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: applied
spec:
  ingressClassName: example
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              number: 80
`
	kubectl := framework.KubectlVersions[len(framework.KubectlVersions)-1]
	ts.MustKubectl(t, kubectl, manifest, "apply", "-n", "default", "-f", "-")
	if _, err := ts.Kubectl(t, kubectl, strings.Replace(manifest, "pathType", "pathKind", 1), "apply", "-n", "default", "-f", "-"); err == nil ||
		!strings.Contains(err.Error(), "pathKind") {
		t.Errorf("kubectl apply with an unknown field: got %v, want it refused", err)
	}
	if out := ts.MustKubectl(t, kubectl, "", "get", "ing", "-n", "default", "applied"); !strings.Contains(out, "web.example.com") {
		t.Errorf("kubectl get ing applied: got\n%s", out)
	}

	// A new Ingress naming no class gets the default one.
	if _, err := classes.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "default",
		Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/controller"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plain := newIngress("plain")
	plain.Spec.IngressClassName = nil
	if ing, err := ings.Create(ctx, plain, metav1.CreateOptions{}); err != nil || ptr.Deref(ing.Spec.IngressClassName, "") != "default" {
		t.Errorf("ingress without a class: got %v, %v, want the default class", ing, err)
	}
}

func TestServiceCIDRFinalizer(t *testing.T) {
	ts := framework.Start(t, framework.Options{Modify: func(c *server.Config) { c.Disable = []string{"agent", "dns", "proxy"} }})
	ctx := context.Background()
	net := ts.Client.NetworkingV1()
	if _, err := net.ServiceCIDRs().Create(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{"203.0.113.0/24"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		sc, err := net.ServiceCIDRs().Get(ctx, "extra", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !slices.Contains(sc.Finalizers, "networking.k8s.io/service-cidr-finalizer") ||
			!meta.IsStatusConditionTrue(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady) {
			return fmt.Errorf("got finalizers %v status %+v, want the finalizer and Ready", sc.Finalizers, sc.Status)
		}
		return nil
	})
	if _, err := net.IPAddresses().Create(ctx, &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: "203.0.113.5"},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Group: "gateway.example.com", Resource: "gateways", Name: "gw"}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// ClusterIPs may now come from the new range.
	svcs := ts.Client.CoreV1().Services("default")
	requested := func(name, ip string) error {
		_, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		return err
	}
	if err := requested("in-extra", "203.0.113.10"); err != nil {
		t.Fatalf("Service with a ClusterIP of the new ServiceCIDR: %v", err)
	}
	if ip, err := net.IPAddresses().Get(ctx, "203.0.113.10", metav1.GetOptions{}); err != nil || ip.Spec.ParentRef.Name != "in-extra" {
		t.Errorf("IPAddress of in-extra: got %+v, %v", ip, err)
	}
	if err := net.ServiceCIDRs().Delete(ctx, "extra", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := requested("late", "203.0.113.11"); !apierrors.IsInvalid(err) {
		t.Errorf("ClusterIP of a ServiceCIDR being deleted: got %v, want 422", err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		sc, err := net.ServiceCIDRs().Get(ctx, "extra", metav1.GetOptions{})
		if err != nil {
			return err
		}
		c := meta.FindStatusCondition(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady)
		if sc.DeletionTimestamp == nil || c == nil || c.Reason != networkingv1.ServiceCIDRReasonTerminating {
			return fmt.Errorf("got deletionTimestamp %v Ready %+v, want a held deletion, Terminating", sc.DeletionTimestamp, c)
		}
		return nil
	})
	if err := net.IPAddresses().Delete(ctx, "203.0.113.5", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := svcs.Delete(ctx, "in-extra", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := net.ServiceCIDRs().Get(ctx, "extra", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("got %v, want the ServiceCIDR gone", err)
		}
		return nil
	})
}

// TestLegacyClusterIPReservationsMigrate checks that a ClusterIP
// reservation of an earlier release (a bare key under
// /registry/reservations/serviceips/) becomes the Service's IPAddress when
// a server starts.
func TestLegacyClusterIPReservationsMigrate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	etcdClient, endpoints := startTestEtcd(ctx, t)
	withEtcd := func(c *server.Config) { c.EtcdServers = endpoints }
	ts := framework.Start(t, framework.Options{Modify: withEtcd})
	svc, err := ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "legacy"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Stop()

	// Store the address the way earlier releases did.
	ip := svc.Spec.ClusterIP
	legacyKey := "/registry/reservations/serviceips/" + ip
	if _, err := etcdClient.Txn(ctx).Then(
		clientv3.OpDelete("/registry/ipaddresses/"+ip),
		clientv3.OpPut(legacyKey, "/registry/services/specs/default/legacy"),
	).Commit(); err != nil {
		t.Fatal(err)
	}

	ts = framework.Start(t, framework.Options{DataDir: ts.DataDir, Modify: withEtcd})
	addr, err := ts.Client.NetworkingV1().IPAddresses().Get(ctx, ip, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("IPAddress after migration: %v", err)
	}
	if ref := addr.Spec.ParentRef; ref == nil || ref.Resource != "services" || ref.Namespace != "default" || ref.Name != "legacy" {
		t.Errorf("got parentRef %+v, want services/default/legacy", ref)
	}
	if resp, err := etcdClient.Get(ctx, legacyKey); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("legacy key after migration: got %v, %v, want it gone", resp, err)
	}
	_, err = ts.Client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "thief"},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Errorf("migrated address requested again: got %v, want 422", err)
	}
}
