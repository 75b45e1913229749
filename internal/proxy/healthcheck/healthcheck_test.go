package healthcheck

import (
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/types"
)

// loopback opens every port on 127.0.0.1 with a kernel-chosen number and
// remembers which real address stands for which health-check port.
type loopback struct {
	mu    sync.Mutex
	addrs map[int32]string
}

func (l *loopback) listen(port int32) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.addrs[port] = ln.Addr().String()
	l.mu.Unlock()
	return ln, nil
}

func (l *loopback) get(t *testing.T, port int32) (int, response, http.Header) {
	t.Helper()
	l.mu.Lock()
	addr := l.addrs[port]
	l.mu.Unlock()
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("GET health check port %d: %v", port, err)
	}
	defer resp.Body.Close()
	var body response
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body, resp.Header
}

func TestServer(t *testing.T) {
	lb := &loopback{addrs: map[int32]string{}}
	healthy := true
	var mu sync.Mutex
	s := New(Config{Listen: lb.listen, Healthy: func() bool { mu.Lock(); defer mu.Unlock(); return healthy }})
	defer s.Close()
	web := types.NamespacedName{Namespace: "ns", Name: "web"}
	api := types.NamespacedName{Namespace: "ns", Name: "api"}

	steps := []struct {
		name       string
		services   map[types.NamespacedName]Service
		healthy    bool
		port       int32
		wantCode   int
		wantLocal  int
		wantHealth bool
	}{
		{"local endpoints", map[types.NamespacedName]Service{web: {Port: 32000, LocalEndpoints: 2}, api: {Port: 32001}},
			true, 32000, http.StatusOK, 2, true},
		{"no local endpoints", map[types.NamespacedName]Service{web: {Port: 32000, LocalEndpoints: 2}, api: {Port: 32001}},
			true, 32001, http.StatusServiceUnavailable, 0, true},
		{"count updated in place", map[types.NamespacedName]Service{web: {Port: 32000, LocalEndpoints: 0}},
			true, 32000, http.StatusServiceUnavailable, 0, true},
		{"unhealthy proxy", map[types.NamespacedName]Service{web: {Port: 32000, LocalEndpoints: 1}},
			false, 32000, http.StatusServiceUnavailable, 1, false},
		{"port moved", map[types.NamespacedName]Service{web: {Port: 32002, LocalEndpoints: 1}},
			true, 32002, http.StatusOK, 1, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			mu.Lock()
			healthy = st.healthy
			mu.Unlock()
			s.Sync(st.services)
			code, body, hdr := lb.get(t, st.port)
			if code != st.wantCode {
				t.Errorf("got status %d, want %d", code, st.wantCode)
			}
			var want response
			var name types.NamespacedName
			for n, svc := range st.services {
				if svc.Port == st.port {
					name = n
				}
			}
			want.Service.Namespace, want.Service.Name = name.Namespace, name.Name
			want.LocalEndpoints, want.ServiceProxyHealthy = st.wantLocal, st.wantHealth
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if got := hdr.Get("Content-Type"); got != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", got)
			}
		})
	}
	// Closed ports stop answering.
	s.Sync(nil)
	lb.mu.Lock()
	addr := lb.addrs[32002]
	lb.mu.Unlock()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("health check port still open after its Service left")
	}
}
