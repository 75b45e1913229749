package cacher

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/internal/storage"
)

const (
	benchServices = 5000
	svcPrefix     = "/registry/services/specs/"
)

// benchService is a Service as the API server stores one for the bench
// (bench/control.go): metadata with a managedFields entry, an allocated
// ClusterIP, one port.
func benchService(i int) *corev1.Service {
	name := fmt.Sprintf("svc-%05d", i)
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: "default", UID: types.UID(fmt.Sprintf("6f1c7a4e-0000-4000-8000-%012d", i)),
			Labels:            map[string]string{"bench": "svcnet"},
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "bench", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
				Time: &metav1.Time{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, FieldsType: "FieldsV1",
				FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{".":{},"f:bench":{}}},"f:spec":` +
					`{"f:internalTrafficPolicy":{},"f:ports":{".":{},"k:{\"port\":80,\"protocol\":\"TCP\"}":{".":{},` +
					`"f:name":{},"f:port":{},"f:protocol":{},"f:targetPort":{}}},"f:sessionAffinity":{},"f:type":{}}}`)},
			}},
		},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			ClusterIP:             fmt.Sprintf("10.96.%d.%d", i/250, i%250+1),
			ClusterIPs:            []string{fmt.Sprintf("10.96.%d.%d", i/250, i%250+1)},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        new(corev1.IPFamilyPolicySingleStack),
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: new(corev1.ServiceInternalTrafficPolicyCluster),
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80,
				TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

// BenchmarkList5k lists 5,000 Services unpaged: from etcd through the
// etcd3 store, and through the Cacher (consistent and resourceVersion
// "0"); and, to show what the copies cost, deep-copies them alone.
func BenchmarkList5k(b *testing.B) {
	ctx := context.Background()
	client := startEtcd(b)
	store := newEtcdStore(b, client, 5*time.Second)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range benchServices {
		g.Go(func() error {
			svc := benchService(i)
			return store.Create(gctx, svcPrefix+"default/"+svc.Name, svc, &corev1.Service{}, storage.WriteOptions{})
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("creating Services: %v", err)
	}
	c := startCacher(b, store, DefaultWaitTimeout,
		Resource{Prefix: svcPrefix, NewFunc: func() kruntime.Object { return &corev1.Service{} }})

	list := func(s storage.Interface, opts storage.ListOptions) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				out := &corev1.ServiceList{}
				if err := s.GetList(ctx, svcPrefix, opts, out); err != nil {
					b.Fatalf("GetList: %v", err)
				}
				if len(out.Items) != benchServices {
					b.Fatalf("got %d Services, want %d", len(out.Items), benchServices)
				}
			}
		}
	}
	b.Run("etcd3", list(store, storage.ListOptions{}))
	b.Run("cacher/consistent", list(c, storage.ListOptions{}))
	b.Run("cacher/any", list(c, storage.ListOptions{ResourceVersion: "0"}))
	shared := *c
	shared.share = true
	b.Run("cacher/consistent-shared", list(&shared, storage.ListOptions{}))
	b.Run("cacher/namespace-selector", func(b *testing.B) {
		one := func(obj kruntime.Object) (bool, error) { return obj.(*corev1.Service).Name == "svc-00042", nil }
		for b.Loop() {
			out := &corev1.ServiceList{}
			if err := c.GetList(ctx, svcPrefix+"default/", storage.ListOptions{Predicate: one}, out); err != nil {
				b.Fatalf("GetList: %v", err)
			}
		}
	})
	b.Run("deepcopy-only", func(b *testing.B) {
		sel, err := c.resources[0].cache.selectRange(svcPrefix, 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			items := make([]corev1.Service, len(sel.objs))
			for i, obj := range sel.objs {
				obj.(*corev1.Service).DeepCopyInto(&items[i])
			}
		}
	})
	b.Run("memory", func(b *testing.B) {
		// The heap a cache of benchServices objects holds: decoded
		// objects, as the store returns them, and their entries.
		var before, after runtime.MemStats
		for b.Loop() {
			runtime.GC()
			runtime.ReadMemStats(&before)
			out := &corev1.ServiceList{}
			if err := store.GetList(ctx, svcPrefix, storage.ListOptions{}, out); err != nil {
				b.Fatalf("GetList: %v", err)
			}
			entries := make([]entry, len(out.Items))
			for i := range out.Items {
				entries[i] = entry{key: svcPrefix + "default/" + out.Items[i].Name, obj: &out.Items[i]}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			runtime.KeepAlive(entries)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/benchServices, "heapB/object")
	})
}
