package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	container := &v1.Container{Ports: []v1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}}
	exec := func(_ context.Context, argv []string) (int, error) { return len(argv) - 1, nil }
	tests := []struct {
		name  string
		probe v1.ProbeHandler
		want  bool
	}{
		{name: "http ok", probe: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ok", Port: intstr.FromInt32(int32(port))}}, want: true},
		{name: "http named port", probe: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/ok", Port: intstr.FromString("http")}}, want: true},
		{name: "http redirect counts as success", probe: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/redirect", Port: intstr.FromInt32(int32(port))}}, want: true},
		{name: "http 503", probe: v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt32(int32(port))}}, want: false},
		{name: "tcp open", probe: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(int32(port))}}, want: true},
		{name: "tcp closed", probe: v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(int32(closedPort))}}, want: false},
		{name: "exec success", probe: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"true"}}}, want: true},
		{name: "exec failure", probe: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"false", "x"}}}, want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, msg := Check(context.Background(), &v1.Probe{ProbeHandler: tc.probe, TimeoutSeconds: 1},
				Target{PodIP: "127.0.0.1", Container: container, Exec: exec})
			if got != tc.want {
				t.Errorf("Check() got %v (%s), want %v", got, msg, tc.want)
			}
		})
	}
}

func TestWorkerThresholds(t *testing.T) {
	var healthy atomic.Bool
	healthy.Store(true)
	exec := func(context.Context, []string) (int, error) {
		if healthy.Load() {
			return 0, nil
		}
		return 1, nil
	}
	results := make(chan bool, 10)
	w := &Worker{
		Probe: &v1.Probe{ProbeHandler: v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"x"}}},
			PeriodSeconds: 1, FailureThreshold: 2, SuccessThreshold: 1},
		Target:   Target{Exec: exec},
		OnResult: func(ok bool, _ string) { results <- ok },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-results:
			if got != want {
				t.Fatalf("result got %v, want %v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for result %v", want)
		}
	}
	expect(true)
	healthy.Store(false)
	expect(false)
	healthy.Store(true)
	expect(true)
}
