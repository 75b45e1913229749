package servicecidr

import (
	"context"
	"slices"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

func cidr(name string, deleting bool, finalizers []string, cidrs ...string) *networkingv1.ServiceCIDR {
	sc := &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: name, Finalizers: finalizers},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
	if deleting {
		sc.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	}
	return sc
}

func address(ip string) *networkingv1.IPAddress {
	return &networkingv1.IPAddress{ObjectMeta: metav1.ObjectMeta{Name: ip},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: "default", Name: "web"}}}
}

// fixture runs the controller's informers over a fake client; tests call
// sync themselves.
type fixture struct {
	client kubernetes.Interface
	c      *Controller
}

func newFixture(t *testing.T, objs ...any) *fixture {
	t.Helper()
	client := controllertest.NewClient()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *networkingv1.ServiceCIDR:
			_, err = client.NetworkingV1().ServiceCIDRs().Create(ctx, o, metav1.CreateOptions{})
		case *networkingv1.IPAddress:
			_, err = client.NetworkingV1().IPAddresses().Create(ctx, o, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{client: client, c: c}
}

// syncUntil syncs name until the stored ServiceCIDR satisfies ok (the
// informer may lag behind the controller's own writes).
func (f *fixture) syncUntil(t *testing.T, name string, ok func(*networkingv1.ServiceCIDR) bool) *networkingv1.ServiceCIDR {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_ = f.c.sync(context.Background(), name)
		sc, err := f.client.NetworkingV1().ServiceCIDRs().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && ok(sc) {
			return sc
		}
		if time.Now().After(deadline) {
			t.Fatalf("ServiceCIDR %s: got %+v, %v", name, sc, err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not synchronisation
	}
}

func ready(sc *networkingv1.ServiceCIDR) *metav1.Condition {
	return meta.FindStatusCondition(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady)
}

func TestAddsFinalizerAndReady(t *testing.T) {
	f := newFixture(t, cidr("extra", false, nil, "203.0.113.0/24"))
	sc := f.syncUntil(t, "extra", func(sc *networkingv1.ServiceCIDR) bool {
		return slices.Contains(sc.Finalizers, Finalizer) && ready(sc) != nil
	})
	if c := ready(sc); c.Status != metav1.ConditionTrue || c.Message != readyMessage {
		t.Errorf("got Ready %+v, want True %q", c, readyMessage)
	}
}

func TestHoldsDeletionWhileAddressesInUse(t *testing.T) {
	f := newFixture(t,
		cidr("old", true, []string{Finalizer, "example.com/other"}, "203.0.113.0/24"),
		cidr("unrelated", false, []string{Finalizer}, "198.51.100.0/24"),
		address("203.0.113.5"),
		address("10.96.0.10"),
	)
	sc := f.syncUntil(t, "old", func(sc *networkingv1.ServiceCIDR) bool { return ready(sc) != nil })
	if c := ready(sc); c.Status != metav1.ConditionFalse || c.Reason != networkingv1.ServiceCIDRReasonTerminating ||
		!slices.Contains(sc.Finalizers, Finalizer) {
		t.Errorf("got Ready %+v finalizers %v, want False/Terminating and the finalizer kept", c, sc.Finalizers)
	}

	// Another ServiceCIDR covering the address lets it go.
	if _, err := f.client.NetworkingV1().ServiceCIDRs().Create(context.Background(), cidr("wider", false, nil, "203.0.0.0/16"),
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sc = f.syncUntil(t, "old", func(sc *networkingv1.ServiceCIDR) bool { return !slices.Contains(sc.Finalizers, Finalizer) })
	if !slices.Equal(sc.Finalizers, []string{"example.com/other"}) {
		t.Errorf("got finalizers %v, want only the other one kept", sc.Finalizers)
	}
}

func TestReleasesDeletionOnceAddressesGo(t *testing.T) {
	f := newFixture(t, cidr("old", true, []string{Finalizer}, "203.0.113.0/24"), address("203.0.113.5"))
	f.syncUntil(t, "old", func(sc *networkingv1.ServiceCIDR) bool { return ready(sc) != nil })
	if err := f.client.NetworkingV1().IPAddresses().Delete(context.Background(), "203.0.113.5", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.syncUntil(t, "old", func(sc *networkingv1.ServiceCIDR) bool { return len(sc.Finalizers) == 0 })
}
