package nodelifecycle

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

const (
	testNS        = "ns"
	monitorPeriod = 5 * time.Second
	evictAfter    = time.Minute
)

type env struct {
	c        *Controller
	client   *fake.Clientset
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	ctx      context.Context
}

// start runs the controller with a fake clock at t0 and waits for its
// first pass.
func start(t *testing.T, objs ...runtime.Object) *env {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	fc := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(1000)
	c, err := New(Config{Client: client, Informers: factory, Clock: fc, Recorder: rec, Logger: slog.New(slog.DiscardHandler),
		MonitorPeriod: monitorPeriod, PodEvictionTimeout: evictAfter})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	factory.Start(ctx.Done())
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	e := &env{c: c, client: client, clock: fc, recorder: rec, ctx: ctx}
	e.waitPasses(t, 1)
	return e
}

func (e *env) waitPasses(t *testing.T, n int64) {
	t.Helper()
	poll(t, "monitor pass", func() bool { return e.c.passes.Load() >= n })
}

// poll waits for cond with a deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not synchronisation
	}
}

// advance moves the clock forward d, one monitor period at a time, each
// followed by a full pass; before each step the leases of alive are
// renewed and seen by the controller.
func (e *env) advance(t *testing.T, d time.Duration, alive ...string) {
	t.Helper()
	for step := time.Duration(0); step < d; step += monitorPeriod {
		for _, n := range alive {
			e.renew(t, n)
		}
		n := e.c.passes.Load()
		e.clock.Step(monitorPeriod)
		e.waitPasses(t, n+1)
	}
}

// renew renews node's Lease at the current fake time and waits until the
// controller's cache has it.
func (e *env) renew(t *testing.T, node string) {
	t.Helper()
	leases := e.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	l, err := leases.Get(e.ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.NewMicroTime(e.clock.Now())
	l.Spec.RenewTime = &now
	if _, err := leases.Update(e.ctx, l, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "lease in cache", func() bool {
		got, err := e.c.leases.Leases(corev1.NamespaceNodeLease).Get(node)
		return err == nil && got.Spec.RenewTime.Equal(&now)
	})
}

// postStatus makes node's agent post a Ready condition with status s.
func (e *env) postStatus(t *testing.T, node string, s corev1.ConditionStatus) {
	t.Helper()
	n := e.node(t, node)
	now := metav1.NewTime(e.clock.Now())
	i := conditionIndex(n, corev1.NodeReady)
	if n.Status.Conditions[i].Status != s {
		n.Status.Conditions[i].LastTransitionTime = now
	}
	n.Status.Conditions[i].Status, n.Status.Conditions[i].LastHeartbeatTime = s, now
	n.Status.Conditions[i].Reason, n.Status.Conditions[i].Message = "KubeletReady", "kubelet is posting ready status"
	if _, err := e.client.CoreV1().Nodes().UpdateStatus(e.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The status too: a heartbeat at the clock's start time equals the
	// one the Node was created with, so it alone cannot tell the update
	// reached the cache.
	poll(t, "node in cache", func() bool {
		got, err := e.c.nodes.Get(node)
		if err != nil {
			return false
		}
		c := condition(got, corev1.NodeReady)
		return c.Status == s && c.LastHeartbeatTime.Equal(&now)
	})
}

func (e *env) node(t *testing.T, name string) *corev1.Node {
	t.Helper()
	n, err := e.client.CoreV1().Nodes().Get(e.ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *env) pod(t *testing.T, name string) (*corev1.Pod, bool) {
	t.Helper()
	p, err := e.client.CoreV1().Pods(testNS).Get(e.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return p, true
}

func (e *env) podReady(t *testing.T, name string) corev1.ConditionStatus {
	t.Helper()
	p, ok := e.pod(t, name)
	if !ok {
		t.Fatalf("pod %s: not found, want it", name)
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return ""
}

// taintKeys returns node's taints as "key:effect".
func (e *env) taintKeys(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, taint := range e.node(t, name).Spec.Taints {
		out = append(out, taint.Key+":"+string(taint.Effect))
	}
	slices.Sort(out)
	return out
}

func (e *env) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.recorder.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func testNode(name string, pressure bool) *corev1.Node {
	hb := metav1.NewTime(t0)
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status",
			LastHeartbeatTime: hb, LastTransitionTime: hb,
		}}},
	}
	if pressure {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory",
			LastHeartbeatTime: hb, LastTransitionTime: hb,
		})
	}
	return n
}

func testLease(node string) *coordv1.Lease {
	now := metav1.NewMicroTime(t0)
	d := int32(40)
	return &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: node, Namespace: corev1.NamespaceNodeLease},
		Spec:       coordv1.LeaseSpec{HolderIdentity: &node, LeaseDurationSeconds: &d, RenewTime: &now},
	}
}

func testPod(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: testNS, UID: types.UID("uid-" + name)},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tolerations},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
}

var unreachableTaints = []string{corev1.TaintNodeUnreachable + ":NoExecute", corev1.TaintNodeUnreachable + ":NoSchedule"}

func TestRenewingNodeStaysReady(t *testing.T) {
	e := start(t, testNode("a", false), testLease("a"), testPod("p", "a"))
	e.advance(t, 3*DefaultGracePeriod, "a")
	if got := condition(e.node(t, "a"), corev1.NodeReady).Status; got != corev1.ConditionTrue {
		t.Errorf("Ready: got %s, want True", got)
	}
	if got := e.taintKeys(t, "a"); got != nil {
		t.Errorf("taints: got %v, want none", got)
	}
	if got := e.podReady(t, "p"); got != corev1.ConditionTrue {
		t.Errorf("pod Ready: got %s, want True", got)
	}
}

func TestStatusHeartbeatAloneKeepsNodeReady(t *testing.T) {
	// A Node without a Lease that posts its status is alive too.
	e := start(t, testNode("a", false))
	for range 12 {
		e.postStatus(t, "a", corev1.ConditionTrue)
		e.advance(t, 2*monitorPeriod)
	}
	if got := e.taintKeys(t, "a"); got != nil {
		t.Errorf("taints: got %v, want none", got)
	}
}

func TestSilentNodeLosesItsPods(t *testing.T) {
	forever := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	ten := int64(10)
	short := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &ten}
	e := start(t, testNode("dead", true), testLease("dead"), testNode("alive", false), testLease("alive"),
		testPod("plain", "dead"), testPod("daemon", "dead", forever), testPod("short", "dead", short), testPod("elsewhere", "alive"))

	// Within the grace period nothing happens.
	e.advance(t, DefaultGracePeriod, "alive")
	if got := condition(e.node(t, "dead"), corev1.NodeReady).Status; got != corev1.ConditionTrue {
		t.Fatalf("Ready at the grace period: got %s, want True", got)
	}

	// One pass later the Node is Unknown, tainted, its pods not Ready.
	e.advance(t, monitorPeriod, "alive")
	markedAt := e.clock.Now()
	node := e.node(t, "dead")
	wantConds := []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.",
			LastHeartbeatTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(markedAt)},
		{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status.",
			LastHeartbeatTime: metav1.NewTime(t0), LastTransitionTime: metav1.NewTime(markedAt)},
	}
	if diff := cmp.Diff(wantConds, node.Status.Conditions); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(unreachableTaints, e.taintKeys(t, "dead")); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	for _, p := range []string{"plain", "daemon", "short"} {
		if got := e.podReady(t, p); got != corev1.ConditionFalse {
			t.Errorf("pod %s Ready: got %s, want False", p, got)
		}
	}
	if got := e.podReady(t, "elsewhere"); got != corev1.ConditionTrue {
		t.Errorf("pod elsewhere Ready: got %s, want True", got)
	}
	if got := condition(e.node(t, "alive"), corev1.NodeReady).Status; got != corev1.ConditionTrue {
		t.Errorf("alive Node Ready: got %s, want True", got)
	}

	// Pods go when their toleration runs out.
	e.advance(t, 10*time.Second, "alive")
	if _, ok := e.pod(t, "short"); ok {
		t.Errorf("pod short: still there 10s after the taint, want evicted")
	}
	if _, ok := e.pod(t, "plain"); !ok {
		t.Fatalf("pod plain: evicted before the eviction timeout")
	}
	e.advance(t, evictAfter-10*time.Second, "alive")
	got := map[string]bool{}
	for _, p := range []string{"plain", "daemon", "short", "elsewhere"} {
		_, got[p] = e.pod(t, p)
	}
	want := map[string]bool{"plain": false, "daemon": true, "short": false, "elsewhere": true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pods present (-want +got):\n%s", diff)
	}

	evs := e.events()
	for _, w := range []string{
		"Normal NodeNotReady Node dead status is now: NodeNotReady",
		"Warning NodeNotReady Node is not ready",
		"Normal TaintManagerEviction Marking for deletion Pod ns/plain",
		"Normal TaintManagerEviction Marking for deletion Pod ns/short",
	} {
		if !slices.Contains(evs, w) {
			t.Errorf("events: got %q, want one %q", evs, w)
		}
	}
	for _, ev := range evs {
		if strings.Contains(ev, "ns/daemon") || strings.Contains(ev, "ns/elsewhere") {
			t.Errorf("got event %q, want none for that pod", ev)
		}
	}
}

func TestNodeComesBack(t *testing.T) {
	e := start(t, testNode("a", false), testLease("a"), testPod("p", "a"))
	e.advance(t, DefaultGracePeriod+monitorPeriod)
	if diff := cmp.Diff(unreachableTaints, e.taintKeys(t, "a")); diff != "" {
		t.Fatalf("taints (-want +got):\n%s", diff)
	}
	// The Lease renews: the taints go although Ready is still Unknown.
	e.advance(t, monitorPeriod, "a")
	if got := e.taintKeys(t, "a"); got != nil {
		t.Errorf("taints after the lease renewed: got %v, want none", got)
	}
	if got := condition(e.node(t, "a"), corev1.NodeReady).Status; got != corev1.ConditionUnknown {
		t.Errorf("Ready: got %s, want Unknown until the agent posts it", got)
	}
	// The agent posts Ready; the pod outlives the eviction timeout.
	e.postStatus(t, "a", corev1.ConditionTrue)
	e.advance(t, 2*evictAfter, "a")
	if got := e.taintKeys(t, "a"); got != nil {
		t.Errorf("taints: got %v, want none", got)
	}
	if _, ok := e.pod(t, "p"); !ok {
		t.Errorf("pod p: evicted from a Node that came back")
	}

	// Silent again: tainted again.
	e.advance(t, DefaultGracePeriod+monitorPeriod)
	if diff := cmp.Diff(unreachableTaints, e.taintKeys(t, "a")); diff != "" {
		t.Errorf("taints after going silent again (-want +got):\n%s", diff)
	}
}

func TestNotReadyNodeTainted(t *testing.T) {
	e := start(t, testNode("a", false), testLease("a"))
	e.postStatus(t, "a", corev1.ConditionFalse)
	want := []string{corev1.TaintNodeNotReady + ":NoExecute", corev1.TaintNodeNotReady + ":NoSchedule"}
	e.advance(t, monitorPeriod, "a")
	if diff := cmp.Diff(want, e.taintKeys(t, "a")); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	e.postStatus(t, "a", corev1.ConditionTrue)
	e.advance(t, monitorPeriod, "a")
	if got := e.taintKeys(t, "a"); got != nil {
		t.Errorf("taints after Ready: got %v, want none", got)
	}
}

func TestNodeThatNeverPostedStatus(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new", CreationTimestamp: metav1.NewTime(t0)}}
	e := start(t, n)
	e.advance(t, DefaultGracePeriod+monitorPeriod)
	if got := e.node(t, "new").Status.Conditions; got != nil {
		t.Fatalf("conditions within the startup grace period: got %v, want none", got)
	}
	e.advance(t, DefaultStartupGracePeriod-DefaultGracePeriod)
	want := []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
		Message: "Kubelet never posted node status.", LastHeartbeatTime: metav1.NewTime(t0)}}
	if diff := cmp.Diff(want, e.node(t, "new").Status.Conditions, cmpopts.IgnoreFields(corev1.NodeCondition{}, "LastTransitionTime")); diff != "" {
		t.Errorf("conditions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(unreachableTaints, e.taintKeys(t, "new")); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
}
