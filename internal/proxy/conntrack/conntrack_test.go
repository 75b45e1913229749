package conntrack

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/svcnet/svcnet/internal/proxy"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		name string
		flow proxy.StaleFlow
		want string
	}{
		{"service IP to endpoint", proxy.StaleFlow{OrigDst: "10.96.0.10", Port: 53, Endpoint: "10.244.0.1"},
			"-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53 --reply-src 10.244.0.1"},
		{"node port to endpoint", proxy.StaleFlow{Port: 30053, Endpoint: "10.244.0.1"},
			"-D -p udp --orig-port-dst 30053 --reply-src 10.244.0.1"},
		{"every flow to a service IP", proxy.StaleFlow{OrigDst: "10.96.0.10", Port: 53},
			"-D -p udp --orig-dst 10.96.0.10 --orig-port-dst 53"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(Args(tc.flow), " "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// table is the entries both the fake and the real test start from.
func table() []Entry {
	return []Entry{
		{Protocol: "udp", OrigDst: "10.96.0.10", OrigPort: 53, ReplySrc: "10.244.0.1"},
		{Protocol: "udp", OrigDst: "10.96.0.10", OrigPort: 53, ReplySrc: "10.244.0.2"},
		{Protocol: "udp", OrigDst: "192.168.0.2", OrigPort: 30053, ReplySrc: "10.244.0.1"},
		{Protocol: "udp", OrigDst: "10.96.0.11", OrigPort: 53, ReplySrc: "10.96.0.11"},
		{Protocol: "tcp", OrigDst: "10.96.0.10", OrigPort: 53, ReplySrc: "10.244.0.1"},
	}
}

var deleteCases = []struct {
	name  string
	flows []proxy.StaleFlow
	keep  []int // indexes into table()
}{
	{"endpoint removed", []proxy.StaleFlow{{OrigDst: "10.96.0.10", Port: 53, Endpoint: "10.244.0.1"}, {Port: 30053, Endpoint: "10.244.0.1"}},
		[]int{1, 3, 4}},
	{"first endpoint", []proxy.StaleFlow{{OrigDst: "10.96.0.11", Port: 53}}, []int{0, 1, 2, 4}},
	{"no match", []proxy.StaleFlow{{OrigDst: "10.96.0.12", Port: 53, Endpoint: "10.244.0.1"}}, []int{0, 1, 2, 3, 4}},
}

func keep(idx []int) []Entry {
	all := table()
	var out []Entry
	for _, i := range idx {
		out = append(out, all[i])
	}
	return out
}

func TestFake(t *testing.T) {
	for _, tc := range deleteCases {
		t.Run(tc.name, func(t *testing.T) {
			f := NewFake(table()...)
			if err := f.DeleteUDP(t.Context(), tc.flows); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keep(tc.keep), f.Entries()); diff != "" {
				t.Errorf("entries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCLI inserts real entries with `conntrack -I` and deletes them with
// the CLI, inside the throw-away namespace made by hack/netns-run.sh.
func TestCLI(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	c, err := New(Config{})
	if err != nil {
		t.Skipf("conntrack not installed: %v", err)
	}
	for _, tc := range deleteCases {
		t.Run(tc.name, func(t *testing.T) {
			// Only this test's entries (source 10.0.0.1): other packages'
			// tests may have live flows in the same namespace.
			flush := func() { _ = exec.Command(c.path, "-D", "-s", "10.0.0.1").Run() }
			flush()
			t.Cleanup(flush)
			for i, e := range table() {
				sport := itoa(int32(1000 + i)) // distinct original tuples
				args := []string{"-I", "-p", e.Protocol, "-s", "10.0.0.1", "-d", e.OrigDst, "--sport", sport,
					"--dport", itoa(e.OrigPort), "-r", e.ReplySrc, "-q", "10.0.0.1", "--reply-port-src", "5353",
					"--reply-port-dst", sport, "-t", "120"}
				if e.Protocol == "tcp" {
					args = append(args, "--state", "ESTABLISHED")
				}
				if out, err := exec.Command(c.path, args...).CombinedOutput(); err != nil {
					t.Fatalf("conntrack %v: %v: %s", args, err, out)
				}
			}
			if err := c.DeleteUDP(t.Context(), tc.flows); err != nil {
				t.Fatalf("DeleteUDP: %v", err)
			}
			if diff := cmp.Diff(keep(tc.keep), list(t, c.path)); diff != "" {
				t.Errorf("entries mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// list parses `conntrack -L -s 10.0.0.1` into entries, in table() order.
func list(t *testing.T, path string) []Entry {
	t.Helper()
	out, err := exec.Command(path, "-L", "-s", "10.0.0.1").Output() // this test's entries only
	if err != nil {
		t.Fatalf("conntrack -L: %v", err)
	}
	var got []Entry
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (f[0] != "udp" && f[0] != "tcp") {
			continue
		}
		e := Entry{Protocol: f[0]}
		var dsts, srcs []string
		for _, kv := range f {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "dst":
				dsts = append(dsts, v)
			case "src":
				srcs = append(srcs, v)
			case "dport":
				if e.OrigPort == 0 {
					e.OrigPort = int32(atoi(t, v))
				}
			}
		}
		e.OrigDst, e.ReplySrc = dsts[0], srcs[1]
		got = append(got, e)
	}
	order := map[Entry]int{}
	for i, e := range table() {
		order[e] = i
	}
	sortEntries(got, order)
	return got
}
