package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// BenchmarkAPI measures the API server on embedded etcd: Service creates
// (with ClusterIP and NodePort allocation) from 16 clients, a full list,
// and the delay from a create to its watch event. Run with
//
//	hack/netns-run.sh go test -run '^$' -bench API -benchtime 1x ./test/integration/
func BenchmarkAPI(b *testing.B) {
	ts := framework.Start(b, framework.Options{})
	ts.Config.QPS, ts.Config.Burst = 5000, 10000
	client, err := kubernetes.NewForConfig(ts.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const n, workers = 2000, 16
	for iter := 0; iter < b.N; iter++ {
		ns := fmt.Sprintf("bench-%d", iter)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
			metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		w, err := client.CoreV1().Services(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sent := make([]time.Time, n)
		var lat []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added {
					continue
				}
				var i int
				fmt.Sscanf(ev.Object.(*corev1.Service).Name, "s-%d", &i)
				lat = append(lat, time.Since(sent[i]))
				if len(lat) == n {
					return
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < n; i += workers {
					sent[i] = time.Now()
					svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d", i)},
						Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}
					if _, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		createDur := time.Since(start)
		<-done
		w.Stop()
		start = time.Now()
		list, err := client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) != n {
			b.Fatalf("list: %d items, %v", len(list.Items), err)
		}
		listDur := time.Since(start)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(n)/createDur.Seconds(), "creates/s")
		b.ReportMetric(float64(listDur.Milliseconds()), "ms/list-2k")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-watch-p50")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms-watch-p99")
		fmt.Printf("API: %d Service creates by %d clients: %.0f/s; list of %d: %v; create->watch p50 %v p99 %v\n",
			n, workers, float64(n)/createDur.Seconds(), n, listDur, lat[len(lat)/2], lat[len(lat)*99/100])
	}
}
