package integration

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/etcd"
	"github.com/svcnet/svcnet/internal/server"
	"github.com/svcnet/svcnet/test/integration/framework"
)

// TestEventTTL checks that --event-ttl reaches both event resources: every
// write of an event (a PATCH of its count too) stores it under an etcd
// lease of that TTL, the event disappears once the TTL has passed, and a
// watcher sees it DELETED, while other objects stay.
func TestEventTTL(t *testing.T) {
	const ttl = 8 * time.Second // long enough that the events outlive the lease checks on a loaded machine
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// An etcd of the test's own, so the test can look at the stored keys'
	// leases; started first so it stops after the server.
	etcdClient, endpoints := startTestEtcd(ctx, t)
	ts := framework.Start(t, framework.Options{Modify: func(c *server.Config) {
		c.EtcdServers = endpoints
		c.EventTTL = ttl
	}})
	const ns = "default"
	if _, err := ts.Client.CoreV1().ConfigMaps(ns).Create(ctx,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "keep"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create ConfigMap: %v", err)
	}
	w, err := ts.Client.CoreV1().Events(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=ev-core"})
	if err != nil {
		t.Fatalf("watch events: %v", err)
	}
	defer w.Stop()

	now := metav1.NewTime(time.Now())
	regarding := corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "web-1", UID: "u1", APIVersion: "v1"}
	core := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "ev-core"},
		InvolvedObject: regarding,
		Reason:         "Started", Message: "Started container web", Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := ts.Client.CoreV1().Events(ns).Create(ctx, core, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create core/v1 event: %v", err)
	}
	if _, err := ts.Client.CoreV1().Events(ns).Patch(ctx, "ev-core", types.StrategicMergePatchType,
		[]byte(`{"count":2}`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch core/v1 event: %v", err)
	}
	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "ev-new"},
		EventTime:  metav1.NewMicroTime(time.Now()), ReportingController: "svcnet.io/agent", ReportingInstance: "agent-node-1",
		Action: "Started", Reason: "Started", Regarding: regarding, Note: "Started container web", Type: corev1.EventTypeNormal,
	}
	if _, err := ts.Client.EventsV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create events.k8s.io/v1 event: %v", err)
	}

	for key, want := range map[string]int64{
		"/registry/events/default/ev-core":              int64(ttl / time.Second),
		"/registry/events.k8s.io/events/default/ev-new": int64(ttl / time.Second),
		"/registry/configmaps/default/keep":             0,
	} {
		if got := grantedTTL(ctx, t, etcdClient, key); got != want {
			t.Errorf("%s: got a lease of %ds, want %ds", key, got, want)
		}
	}

	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := ts.Client.CoreV1().Events(ns).Get(ctx, "ev-core", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("core/v1 event: got %v, want 404", err)
		}
		if _, err := ts.Client.EventsV1().Events(ns).Get(ctx, "ev-new", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("events.k8s.io/v1 event: got %v, want 404", err)
		}
		return nil
	})
	if _, err := ts.Client.CoreV1().ConfigMaps(ns).Get(ctx, "keep", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap after the events expired: %v", err)
	}

	var got []string
	timeout := time.After(30 * time.Second)
	for len(got) < 3 {
		select {
		case e, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed after %v", got)
			}
			if e.Type == watch.Bookmark {
				continue
			}
			ce, ok := e.Object.(*corev1.Event)
			if !ok {
				t.Fatalf("watch sent %s %T", e.Type, e.Object)
			}
			got = append(got, fmt.Sprintf("%s count=%d", e.Type, ce.Count))
		case <-timeout:
			t.Fatalf("got watch events %v, want 3", got)
		}
	}
	if want := []string{"ADDED count=1", "MODIFIED count=2", "DELETED count=2"}; !slices.Equal(got, want) {
		t.Errorf("got watch events %v, want %v", got, want)
	}
}

// startTestEtcd runs an etcd member on loopback until the test ends.
func startTestEtcd(ctx context.Context, t *testing.T) (*clientv3.Client, []string) {
	t.Helper()
	member, err := etcd.New(etcd.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("etcd.New: %v", err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- member.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-errc; err != nil {
			t.Errorf("etcd: %v", err)
		}
	})
	client, err := member.Client(ctx)
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	return client, member.Endpoints()
}

// grantedTTL returns the TTL of the lease key is stored under (0: none).
func grantedTTL(ctx context.Context, t *testing.T, client *clientv3.Client, key string) int64 {
	t.Helper()
	resp, err := client.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd get %s: %v, %d keys", key, err, len(resp.Kvs))
	}
	if resp.Kvs[0].Lease == 0 {
		return 0
	}
	lease, err := client.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil {
		t.Fatalf("etcd lease of %s: %v", key, err)
	}
	return lease.GrantedTTL
}
