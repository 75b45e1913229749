package service

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestConcurrentCreatesGetDistinctValues(t *testing.T) {
	h := newHarness(t, "10.0.0.0/26") // 62 addresses
	const n = 40
	var wg sync.WaitGroup
	outs := make([]*corev1.Service, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = h.create(svc(fmt.Sprintf("s%d", i), corev1.ServiceTypeNodePort))
		}()
	}
	wg.Wait()
	ips, ports := map[string]bool{}, map[int32]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		if ips[outs[i].Spec.ClusterIP] || ports[outs[i].Spec.Ports[0].NodePort] {
			t.Errorf("service %d: duplicate clusterIP %s or nodePort %d", i, outs[i].Spec.ClusterIP, outs[i].Spec.Ports[0].NodePort)
		}
		ips[outs[i].Spec.ClusterIP], ports[outs[i].Spec.Ports[0].NodePort] = true, true
	}
	if got := len(h.store.reservations()); got != 2*n {
		t.Errorf("got %d reservations, want %d", got, 2*n)
	}
}

func TestDynamicRecordsAreCollected(t *testing.T) {
	h := newHarness(t)
	for i := range 10 {
		h.mustCreate(svc(fmt.Sprintf("s%d", i), corev1.ServiceTypeClusterIP))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		h.hooks.mu.Lock()
		left := len(h.hooks.dynamic)
		h.hooks.mu.Unlock()
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d records of dynamic allocations left after GC, want 0", left)
		}
		runtime.Gosched()
	}
}
