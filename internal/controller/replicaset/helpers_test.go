package replicaset

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/controller/controllertest"
)

// recorder and newClient come from controllertest.
type recorder = controllertest.Recorder

func newClient(objs ...runtime.Object) *fake.Clientset { return controllertest.NewClient(objs...) }

// start builds the controller over client and runs it until the test ends.
func start(t *testing.T, client *fake.Clientset) *recorder {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := &recorder{}
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	return rec
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
