package deployment

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/svcnet/svcnet/internal/controller/replicaset"

	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

// recorder and newClient come from controllertest.
type recorder = controllertest.Recorder

func newClient(objs ...runtime.Object) *fake.Clientset { return controllertest.NewClient(objs...) }

// start runs the deployment and replicaset controllers over client and
// a kubelet stand-in that marks pods Running and Ready while auto is set.
func start(t *testing.T, client *fake.Clientset) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := &recorder{}
	auto := &atomic.Bool{}
	auto.Store(true)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	rsc, err := replicaset.New(replicaset.Config{Client: client, Informers: factory, Recorder: rec, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	podInf := factory.Core().V1().Pods().Informer()
	readyAll := func() {
		if !auto.Load() {
			return
		}
		for _, obj := range podInf.GetStore().List() {
			pod := obj.(*corev1.Pod)
			if pod.Status.Phase == corev1.PodRunning {
				continue
			}
			pod = pod.DeepCopy()
			pod.Status.Phase = corev1.PodRunning
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
			_, _ = client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		}
	}
	kick := make(chan struct{}, 1)
	poke := func(any) {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	if _, err := podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 3)
	go func() { done <- c.Run(ctx) }()
	go func() { done <- rsc.Run(ctx) }()
	go func() {
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-kick:
				readyAll()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		for i := 0; i < 3; i++ {
			<-done
		}
		factory.Shutdown()
	})
	return &env{rec: rec, setAuto: func(on bool) {
		auto.Store(on)
		poke(nil)
	}}
}

// env is a running test setup.
type env struct {
	rec *recorder
	// setAuto switches the kubelet stand-in on or off.
	setAuto func(on bool)
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

func listPods(t *testing.T, client *fake.Clientset, ns string) []corev1.Pod {
	t.Helper()
	list, err := client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}
