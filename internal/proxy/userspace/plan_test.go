package userspace

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// TestPlan runs the shared flow scenario's objects through planService and
// checks which sockets forward where. The packet table itself does not
// apply: a userspace proxy always hides the client address and refuses
// instead of dropping.
func TestPlan(t *testing.T) {
	st := pt.Flows().State(proxy.ServiceOptions{})
	got := map[string][]string{}
	for name, svc := range st.Services {
		for k, pl := range planService(name, svc, st.Node, []string{""}, true) {
			got[k.String()] = pl.Endpoints
		}
	}
	want := map[string][]string{
		"TCP/10.96.0.10:80": {"10.244.0.5:8080", "10.244.1.5:8080"},
		"TCP/10.96.0.12:80": {"10.244.1.7:8080"},
		"TCP/10.96.0.20:80": {"10.244.1.5:8080"},
		"TCP/:30080":        {"10.244.1.5:8080"},
		"TCP/10.96.0.21:80": {"10.244.0.6:8080", "10.244.1.6:8080"},
		"TCP/:30081":        {"10.244.0.6:8080"},
		"TCP/10.96.0.22:80": {"10.244.1.16:8080"},
		"TCP/10.96.0.30:80": {"10.244.1.9:8080"},
		"TCP/10.96.0.33:80": {"10.244.1.19:8080"},
		"TCP/:30083":        {"10.244.1.19:8080"},
		"TCP/10.96.0.34:80": {"10.244.1.21:8080"},
		"TCP/:30084":        {"10.244.1.21:8080"},
		"TCP/10.96.0.32:80": {"10.244.0.32:8080", "10.244.1.32:8080"},
		"TCP/10.96.0.40:80": {"10.244.0.20:8080"},
		"UDP/10.96.0.53:53": {"10.244.1.53:5353"},
		"TCP/10.96.0.53:53": {"10.244.1.53:5353"},
		"TCP/10.96.0.41:80": {"10.244.0.41:8080"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listeners mismatch (-want +got):\n%s", diff)
	}

	t.Run("no cluster IPs without the interface", func(t *testing.T) {
		for name, svc := range st.Services {
			for k := range planService(name, svc, st.Node, []string{"192.168.0.2"}, false) {
				if k.IP != "192.168.0.2" {
					t.Errorf("got listener %s, want only node port listeners on 192.168.0.2", k)
				}
			}
		}
	})
}

type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

func TestBalancer(t *testing.T) {
	eps := []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"}
	type step struct {
		client  string
		advance time.Duration
		exclude []string
		want    string
	}
	tests := []struct {
		name     string
		affinity int32
		steps    []step
	}{
		{"round robin", 0, []step{{client: "a", want: eps[0]}, {client: "a", want: eps[1]}, {client: "b", want: eps[2]}, {client: "a", want: eps[0]}}},
		{"skips excluded", 0, []step{{client: "a", exclude: eps[:2], want: eps[2]}, {client: "a", exclude: eps, want: ""}}},
		{"client IP affinity", 10, []step{
			{client: "a", want: eps[0]}, {client: "b", want: eps[1]},
			{client: "a", advance: 9 * time.Second, want: eps[0]},
			{client: "a", advance: 11 * time.Second, want: eps[2]},
			{client: "a", exclude: eps[2:], want: eps[0]},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: time.Unix(1000, 0)}
			b := newBalancer(clk.Now)
			b.update(eps, tc.affinity)
			for i, s := range tc.steps {
				clk.now = clk.now.Add(s.advance)
				if got := b.pick(s.client, s.exclude); got != s.want {
					t.Errorf("step %d: got %q, want %q", i, got, s.want)
				}
			}
		})
	}

	t.Run("update forgets affinity to removed endpoints", func(t *testing.T) {
		b := newBalancer((&fakeClock{now: time.Unix(1000, 0)}).Now)
		b.update(eps, 10)
		first := b.pick("a", nil)
		b.update(eps[1:], 10)
		if got := b.pick("a", nil); got == first {
			t.Errorf("got removed endpoint %q, want another one", got)
		}
		b.update(nil, 10)
		if got := b.pick("a", nil); got != "" {
			t.Errorf("got %q with no endpoints, want none", got)
		}
	})
}
