package integration

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// BenchmarkPodReadyToSlice measures the time from a pod's Ready condition
// being written to its EndpointSlice showing it ready, with 1k Services of
// 10 pods each present. Run with
//
//	hack/netns-run.sh go test -run '^$' -bench PodReadyToSlice -benchtime 1x -timeout 30m ./test/integration/
func BenchmarkPodReadyToSlice(b *testing.B) {
	const services, podsPer, sample = 1000, 10, 300
	ts := framework.Start(b, framework.Options{Modify: withControllers})
	ts.Config.QPS, ts.Config.Burst = 5000, 10000
	client, err := kubernetes.NewForConfig(ts.Config)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}},
		metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	parallel(b, services, func(i int) error {
		_, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i)},
			Spec: corev1.ServiceSpec{Selector: map[string]string{"svc": fmt.Sprint(i)},
				Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{})
		return err
	})
	parallel(b, services*podsPer, func(i int) error {
		svc := i / podsPer
		pod, err := client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Labels: map[string]string{"svc": fmt.Sprint(svc)}},
			Spec:       corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "x"}}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", 100+i/65536, (i/256)%256, i%256)
		pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionFalse}}
		_, err = client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	for iter := 0; iter < b.N; iter++ {
		w, err := client.DiscoveryV1().EndpointSlices("default").Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		flipped := map[string]time.Time{} // pod IP -> when Ready was written
		var lat []time.Duration
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range w.ResultChan() {
				s, ok := ev.Object.(*discoveryv1.EndpointSlice)
				if !ok {
					continue
				}
				mu.Lock()
				for _, ep := range s.Endpoints {
					if t0, ok := flipped[ep.Addresses[0]]; ok && ep.Conditions.Ready != nil && *ep.Conditions.Ready {
						lat = append(lat, time.Since(t0))
						delete(flipped, ep.Addresses[0])
					}
				}
				n := len(lat)
				mu.Unlock()
				if n == sample {
					return
				}
			}
		}()
		for k := 0; k < sample; k++ {
			i := (k*7919 + iter) % (services * podsPer) // spread over services
			pod, err := client.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("p-%d", i), metav1.GetOptions{})
			if err != nil {
				b.Fatal(err)
			}
			ready := corev1.ConditionTrue
			if pod.Status.Conditions[0].Status == corev1.ConditionTrue {
				ready = corev1.ConditionFalse // already flipped by an earlier iteration: skip
			}
			pod.Status.Conditions[0].Status = ready
			mu.Lock()
			if ready == corev1.ConditionTrue {
				flipped[pod.Status.PodIP] = time.Now()
			}
			mu.Unlock()
			if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // pacing of the load (100 flips/s), not synchronisation
		}
		select {
		case <-done:
		case <-time.After(60 * time.Second):
		}
		w.Stop()
		mu.Lock()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if len(lat) == 0 {
			mu.Unlock()
			b.Fatal("no slice update observed")
		}
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		fmt.Printf("pod Ready -> EndpointSlice ready, %d Services x %d pods: %d samples, p50 %v, p99 %v\n",
			services, podsPer, len(lat), p50, p99)
		b.ReportMetric(float64(p50.Microseconds())/1000, "ms-p50")
		b.ReportMetric(float64(p99.Microseconds())/1000, "ms-p99")
		mu.Unlock()
	}
}

// parallel runs fn(0..n-1) on 32 workers and fails b on the first error.
func parallel(b *testing.B, n int, fn func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 32 {
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}
