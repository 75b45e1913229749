package endpointslice

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testReconciler() *reconciler {
	return &reconciler{
		controllerName: ControllerName,
		maxEndpoints:   DefaultMaxEndpointsPerSlice,
		node: func(name string) (*corev1.Node, error) {
			if name == "node-a" {
				return testNode("node-a", "z1"), nil
			}
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, name)
		},
	}
}

// applied turns a plan into the slices the API would hold afterwards.
func applied(existing []*discovery.EndpointSlice, p plan) []*discovery.EndpointSlice {
	byName := map[string]*discovery.EndpointSlice{}
	for _, s := range existing {
		byName[s.Name] = s
	}
	for _, s := range p.delete {
		delete(byName, s.Name)
	}
	for _, s := range p.update {
		byName[s.Name] = s
	}
	for i, s := range p.create {
		s = s.DeepCopy()
		s.Name = fmt.Sprintf("%snew%d", s.GenerateName, i)
		byName[s.Name] = s
	}
	var out []*discovery.EndpointSlice
	for _, s := range byName {
		out = append(out, s)
	}
	return out
}

// TestReconcileMinimalChurn checks the number of writes for a change once
// the slices are in place.
func TestReconcileMinimalChurn(t *testing.T) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	pods := func(n int, readyUpTo int) []*corev1.Pod {
		var out []*corev1.Pod
		for i := range n {
			out = append(out, testPod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.1.%d.%d", i/200, i%200+1), i < readyUpTo, web))
		}
		return out
	}
	tests := []struct {
		name                  string
		before, after         []*corev1.Pod
		create, update, delet int
	}{
		{"unchanged", pods(150, 150), pods(150, 150), 0, 0, 0},
		{"one readiness flip", pods(150, 150), pods(150, 149), 0, 1, 0},
		{"one pod added", pods(150, 150), pods(151, 151), 0, 1, 0},
		{"one pod removed", pods(150, 150), pods(149, 149), 0, 1, 0},
		{"all pods removed", pods(150, 150), nil, 0, 1, 1},
		{"placeholder kept", nil, nil, 0, 0, 0},
		{"placeholder reused", nil, pods(1, 1), 0, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testReconciler()
			p, err := r.compute(svc, tc.before, nil)
			if err != nil {
				t.Fatal(err)
			}
			existing := applied(nil, p)
			p, err = r.compute(svc, tc.after, existing)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.create) != tc.create || len(p.update) != tc.update || len(p.delete) != tc.delet {
				t.Errorf("got create/update/delete %d/%d/%d, want %d/%d/%d",
					len(p.create), len(p.update), len(p.delete), tc.create, tc.update, tc.delet)
			}
			// Applying the plan reaches a fixed point.
			p, err = r.compute(svc, tc.after, applied(existing, p))
			if err != nil {
				t.Fatal(err)
			}
			if !p.empty() {
				t.Errorf("got %d/%d/%d writes after convergence, want none", len(p.create), len(p.update), len(p.delete))
			}
		})
	}
}

// BenchmarkCompute measures the desired-slice computation for one Service
// with 1000 pods, from scratch and against up-to-date slices.
func BenchmarkCompute(b *testing.B) {
	svc := testService("svc", web, tcpPort("http", 80, intstr.FromInt32(80)))
	var pods []*corev1.Pod
	for i := range 1000 {
		pods = append(pods, testPod(fmt.Sprintf("p%04d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), true, web))
	}
	r := testReconciler()
	b.Run("fromScratch", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.compute(svc, pods, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	p, _ := r.compute(svc, pods, nil)
	existing := applied(nil, p)
	b.Run("upToDate", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.compute(svc, pods, existing); err != nil {
				b.Fatal(err)
			}
		}
	})
}
