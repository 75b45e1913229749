package nftables

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/svcnet/svcnet/internal/proxy"
	pt "github.com/svcnet/svcnet/internal/proxy/proxytest"
)

// TestRealNFT programs the flow table with the real nft binary. It runs
// only inside the throw-away namespace made by hack/netns-run.sh.
func TestRealNFT(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" || os.Geteuid() != 0 {
		t.Skip("needs root inside a fresh network namespace (SVCNET_IN_NETNS=1)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft not installed")
	}
	ctx := context.Background()
	p, err := New(Config{BackendConfig: testConfig()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// One service-level chain per transaction: the split syncs of large
	// tables run against the real kernel too.
	p.splitAbove, p.chunk = 0, 1
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "inet", tableName).Run() })

	tr := proxy.NewTracker(pt.NodeName, proxy.ServiceOptions{})
	s := pt.Flows()
	for _, svc := range s.Services {
		tr.SetService(svc)
	}
	for _, sl := range s.Slices {
		tr.SetEndpointSlice(sl)
	}
	snap := tr.Snapshot(true)
	if err := p.Sync(ctx, snap.State); err != nil {
		t.Fatalf("full sync: %v", err)
	}
	tr.Synced(snap)

	// A partial sync that deletes chains and sets in the same transaction.
	web := s.Services[0].DeepCopy()
	web.Spec.SessionAffinity = "ClientIP"
	tr.SetService(web)
	tr.DeleteService("ns3", "affinity")
	snap = tr.Snapshot(false)
	if err := p.Sync(ctx, snap.State); err != nil {
		t.Fatalf("partial sync: %v", err)
	}
	tr.Synced(snap)

	// A second full sync over existing state (restart path).
	p2, err := New(Config{BackendConfig: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	p2.splitAbove, p2.chunk = 0, 2
	if err := p2.Sync(ctx, tr.Snapshot(true).State); err != nil {
		t.Fatalf("full sync over existing table: %v", err)
	}
	// A third full sync in one transaction (small tables are not split):
	// the old generation's maps are deleted in the transaction that flushes
	// the rules using them.
	p3, err := New(Config{BackendConfig: testConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if err := p3.Sync(ctx, tr.Snapshot(true).State); err != nil {
		t.Fatalf("one-transaction full sync over existing table: %v", err)
	}
	out, err := exec.Command("nft", "list", "table", "inet", tableName).CombinedOutput()
	if err != nil {
		t.Fatalf("nft list table: %v\n%s", err, out)
	}
	for _, want := range []string{"service-ips", "ns1/web", "numgen random mod 2"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("got ruleset without %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "ns3/affinity") {
		t.Errorf("got ruleset still holding deleted service ns3/affinity")
	}
	// Each restarted proxier wrote a new generation of dnat-targets maps
	// and deleted the earlier ones.
	if !strings.Contains(string(out), "map "+dnatMapPrefix+"3-tcp-") || strings.Contains(string(out), dnatMapPrefix+"1-") ||
		strings.Contains(string(out), dnatMapPrefix+"2-") {
		t.Errorf("got dnat-targets maps other than generation 3 after the third full sync:\n%s", out)
	}
}
