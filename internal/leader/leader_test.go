package leader

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// candidate is one Elector under test with channels for its terms.
type candidate struct {
	e       *Elector
	started chan struct{}
	stopped chan struct{}
	result  chan error
	cancel  context.CancelFunc
}

func newCandidate(t *testing.T, client kubernetes.Interface, identity string, lead func(ctx context.Context) error) *candidate {
	t.Helper()
	c := &candidate{started: make(chan struct{}, 10), stopped: make(chan struct{}, 10), result: make(chan error, 1)}
	if lead == nil {
		lead = func(ctx context.Context) error {
			c.started <- struct{}{}
			<-ctx.Done()
			c.stopped <- struct{}{}
			return nil
		}
	}
	e, err := New(Config{Client: client, Namespace: "kube-system", Name: "kube-controller-manager", Identity: identity,
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond, Lead: lead})
	if err != nil {
		t.Fatal(err)
	}
	c.e = e
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.result <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-c.result })
	return c
}

// waitFor fails t unless ch delivers within d.
func waitFor(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: nothing after %s", what, d)
	}
}

func holder(t *testing.T, client kubernetes.Interface) string {
	t.Helper()
	l, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *l.Spec.HolderIdentity
}

func TestOneLeaderAndHandover(t *testing.T) {
	client := fake.NewClientset()
	start := time.Now()
	a := newCandidate(t, client, "a", nil)
	waitFor(t, a.started, 5*time.Second, "a leads")
	// No lease existed: the first candidate must not wait a retry period.
	if d := time.Since(start); d > time.Second {
		t.Errorf("first acquisition took %s, want it immediate", d)
	}
	b := newCandidate(t, client, "b", nil)
	select {
	case <-b.started:
		t.Fatal("b leads while a holds the lease")
	case <-time.After(500 * time.Millisecond): // several of b's retry periods
	}
	if got := holder(t, client); got != "a" {
		t.Errorf("holder: got %q, want a", got)
	}

	// A clean stop waits for the work, then releases the lease so b takes
	// over well before the 2s lease would have expired.
	stop := time.Now()
	a.cancel()
	waitFor(t, a.stopped, 5*time.Second, "a's work stops")
	if err := <-a.result; err != nil {
		t.Errorf("a.Run: got %v, want nil", err)
	}
	a.result <- nil // for the cleanup
	waitFor(t, b.started, 5*time.Second, "b leads")
	if d := time.Since(stop); d > 1500*time.Millisecond {
		t.Errorf("handover took %s, want the released lease taken at once", d)
	}
	if got := holder(t, client); got != "b" {
		t.Errorf("holder: got %q, want b", got)
	}
}

func TestRestartedLeaderTakesItsLeaseBack(t *testing.T) {
	client := fake.NewClientset()
	a := newCandidate(t, client, "a", nil)
	waitFor(t, a.started, 5*time.Second, "a leads")
	// A crash: no release, the lease stays valid with holder a.
	l, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Spec.LeaseDurationSeconds = new(int32)
	*l.Spec.LeaseDurationSeconds = 3600
	a.cancel()
	<-a.result
	a.result <- nil
	// Put back the unreleased, long lease a held when it "crashed".
	if _, err := client.CoordinationV1().Leases("kube-system").Update(context.Background(), l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	again := newCandidate(t, client, "a", nil)
	waitFor(t, again.started, 2*time.Second, "restarted a leads")
}

func TestWorkFailureEndsRun(t *testing.T) {
	client := fake.NewClientset()
	boom := errors.New("boom")
	c := newCandidate(t, client, "a", func(context.Context) error { return boom })
	select {
	case err := <-c.result:
		if !errors.Is(err, boom) {
			t.Errorf("got %v, want %v", err, boom)
		}
		c.result <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the work failed")
	}
}

func TestWorkThatDoesNotStop(t *testing.T) {
	client := fake.NewClientset()
	block, started := make(chan struct{}), make(chan struct{})
	defer close(block)
	e, err := New(Config{Client: client, Namespace: "kube-system", Name: "x", Identity: "a",
		LeaseDuration: 2 * time.Second, RenewDeadline: time.Second, RetryPeriod: 100 * time.Millisecond,
		StopTimeout: 200 * time.Millisecond,
		Lead:        func(context.Context) error { close(started); <-block; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- e.Run(ctx) }()
	waitFor(t, started, 5*time.Second, "a leads")
	cancel()
	if err := <-res; err == nil || !strings.Contains(err.Error(), "did not stop") {
		t.Errorf("got %v, want a did-not-stop error", err)
	}
}

func TestLostLeaseStopsWorkAndCampaignsAgain(t *testing.T) {
	client := fake.NewClientset()
	var stolen atomic.Bool
	client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		if stolen.Load() {
			return true, nil, apierrors.NewConflict(coordinationv1.Resource("leases"), "kube-controller-manager", errors.New("stolen"))
		}
		return false, nil, nil
	})
	a := newCandidate(t, client, "a", nil)
	waitFor(t, a.started, 5*time.Second, "a leads")

	// Another holder takes the lease behind a's back (written straight to
	// the tracker, past the reactor): a's renewals fail until its renew
	// deadline passes, then its work must stop.
	setHolder := func(holder string, renew time.Time, seconds int32) {
		t.Helper()
		l, err := client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-controller-manager", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &holder, &seconds
		l.Spec.RenewTime = &metav1.MicroTime{Time: renew}
		if err := client.Tracker().Update(coordinationv1.SchemeGroupVersion.WithResource("leases"), l, "kube-system"); err != nil {
			t.Fatal(err)
		}
	}
	stolen.Store(true)
	setHolder("thief", time.Now(), 3600)
	waitFor(t, a.stopped, 10*time.Second, "a's work stops after losing the lease")
	select {
	case err := <-a.result:
		t.Fatalf("Run returned %v after a lost lease, want it to campaign again", err)
	case <-a.started:
		t.Fatal("a leads again while the thief holds a valid lease")
	case <-time.After(500 * time.Millisecond): // several retry periods
	}

	// The thief's lease expires: a takes over again with fresh work.
	stolen.Store(false)
	setHolder("thief", time.Now().Add(-time.Hour), 1)
	waitFor(t, a.started, 5*time.Second, "a leads again")
	if got := holder(t, client); got != "a" {
		t.Errorf("holder: got %q, want a", got)
	}
}
