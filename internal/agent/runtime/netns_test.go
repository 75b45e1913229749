package runtime

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/svcnet/svcnet/internal/agent/podnet"
)

func TestExecJoinsPodNetns(t *testing.T) {
	requireRoot(t)
	m, err := podnet.New(podnet.Config{PodCIDR: netip.MustParsePrefix("10.244.3.0/24"), DataDir: t.TempDir(), NetnsDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.EnsureBridge(); err != nil {
		t.Fatal(err)
	}
	sb, err := m.SetupPod("pod-x")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.TeardownPod("pod-x") })
	r, ctx := newRuntime(t, true)
	spec := sandboxSpec(t, "c")
	spec.NetnsPath = sb.NetnsPath
	out, code, err := r.Exec(ctx, spec, []string{"cat", "/proc/net/fib_trie"})
	if err != nil || code != 0 {
		t.Fatalf("Exec got (%q, %d, %v), want success", out, code, err)
	}
	if !strings.Contains(string(out), sb.IP.String()) {
		t.Errorf("pod's /proc/net/fib_trie does not list its IP %s:\n%s", sb.IP, out)
	}
}
