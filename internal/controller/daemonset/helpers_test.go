package daemonset

import (
	"context"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

func newClient(objs ...runtime.Object) *fake.Clientset { return controllertest.NewClient(objs...) }

// env is a running controller over a fake clientset, with a stand-in for
// the scheduler and the agents: while auto is on, it binds each new pod
// to the node its affinity names and reports it Running and Ready.
type env struct {
	client *fake.Clientset
	rec    *controllertest.Recorder
	auto   *atomic.Bool
	kick   func()
}

func start(t *testing.T, client *fake.Clientset) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	e := &env{client: client, rec: &controllertest.Recorder{}, auto: &atomic.Bool{}}
	e.auto.Store(true)
	c, err := New(Config{Client: client, Informers: factory, Recorder: e.rec, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	podInf := factory.Core().V1().Pods().Informer()
	kick := make(chan struct{}, 1)
	e.kick = func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { e.kick() }, UpdateFunc: func(_, _ any) { e.kick() },
	}); err != nil {
		t.Fatal(err)
	}
	standIn := func() {
		if !e.auto.Load() {
			return
		}
		for _, obj := range podInf.GetStore().List() {
			pod := obj.(*corev1.Pod)
			if pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" {
				continue
			}
			node, err := targetNode(pod)
			if err != nil {
				continue
			}
			pod = pod.DeepCopy()
			pod.Spec.NodeName = node
			pod.Status.Phase = corev1.PodRunning
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
			_, _ = client.CoreV1().Pods(pod.Namespace).Update(ctx, pod, metav1.UpdateOptions{})
		}
	}
	factory.Start(ctx.Done())
	done := make(chan struct{}, 2)
	go func() { _ = c.Run(ctx); done <- struct{}{} }()
	go func() {
		defer func() { done <- struct{}{} }()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
				standIn()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		<-done
		factory.Shutdown()
	})
	return e
}

// setAuto switches the scheduler and agent stand-in on or off.
func (e *env) setAuto(on bool) {
	e.auto.Store(on)
	e.kick()
}

// eventually polls cond until it returns "" or the deadline passes.
func eventually(t *testing.T, cond func() string) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		last = cond()
		return last == "", nil
	})
	if err != nil {
		t.Fatalf("condition not met before deadline: %s", last)
	}
}

func (e *env) pods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := e.client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// podNodes maps each node to the images of the pods meant for it.
func (e *env) podNodes(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range e.pods(t) {
		node, err := targetNode(&p)
		if err != nil {
			t.Fatalf("pod %s: %v", p.Name, err)
		}
		out[node] = append(out[node], p.Spec.Containers[0].Image)
	}
	return out
}

func (e *env) ds(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	ds, err := e.client.AppsV1().DaemonSets("default").Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// updateDS changes the DaemonSet's spec as a client would, with the
// generation and templateGeneration the API server would write.
func (e *env) updateDS(t *testing.T, mutate func(*appsv1.DaemonSet)) {
	t.Helper()
	ds := e.ds(t)
	before := ds.Spec.Template.DeepCopy()
	mutate(ds)
	ds.Generation++
	if gen := templateGeneration(ds); gen != nil && !equalTemplates(before, &ds.Spec.Template) {
		ds.Annotations[appsv1.DeprecatedTemplateGeneration] = formatInt(*gen + 1)
	}
	if _, err := e.client.AppsV1().DaemonSets("default").Update(context.Background(), ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) setPhase(t *testing.T, name string, phase corev1.PodPhase) {
	t.Helper()
	p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = phase
	p.Status.Conditions = nil
	if _, err := e.client.CoreV1().Pods("default").UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) setReady(t *testing.T, name string) {
	t.Helper()
	p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node, err := targetNode(p); err == nil {
		p.Spec.NodeName = node
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
	if _, err := e.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}
