package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// Lease timings of the HA test: shorter than kube-controller-manager's
// 15s/10s/2s so the takeover fits the test's budget, long enough for a
// loaded two-core machine to renew in time.
var haLeaderElectFlags = []string{"--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s",
	"--leader-elect-retry-period=1s"}

// TestHighAvailability runs two servers on a three-member etcd cluster
// (each member and server in its own network namespace on one LAN),
// writes through server A, then kills A (the controllers' leader) and the
// etcd member that is raft leader with SIGKILL. Through server B everything written before is
// still there with the same ClusterIPs and NodePorts, writes go on, B's
// controllers take over, and no ClusterIP or NodePort is held twice.
func TestHighAvailability(t *testing.T) {
	lan := framework.NewLAN(t)
	members, endpoints := framework.StartEtcdCluster(t, lan, "172.30.0.11", "172.30.0.12", "172.30.0.13")
	a := framework.StartControlPlane(t, lan, "172.30.0.1", "server-a", endpoints, haLeaderElectFlags...)
	waitLeader(t, a, "server-a_", 30*time.Second)
	b := framework.StartControlPlane(t, lan, "172.30.0.2", "server-b", endpoints, haLeaderElectFlags...)

	// One cluster: B adopted A's CA and join token, so A's admin
	// kubeconfig works against B and an agent may join through either.
	if ta, tb := a.JoinToken(), b.JoinToken(); ta != tb {
		t.Errorf("join tokens differ: A %q, B %q", ta, tb)
	}
	a.MustKubectl("--server=https://"+b.IP()+":6443", "get", "namespace", "default")
	b.MustKubectl("--server=https://"+a.IP()+":6443", "get", "namespace", "default")
	// The kubernetes Service leads to every live API server.
	waitAPIServerEndpoints(t, a, "172.30.0.1 172.30.0.2")
	if got := leaseHolder(t, b); !strings.HasPrefix(got, "server-a_") {
		t.Fatalf("lease holder after B started: got %q, want A to keep it", got)
	}

	// Writes through A; A's controllers act on them.
	a.MustKubectl("create", "deployment", "web", "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--replicas=2")
	a.MustKubectl("create", "service", "nodeport", "web", "--tcp=80:8080")
	for i := range 4 {
		a.MustKubectl("create", "service", "clusterip", fmt.Sprintf("before-%d", i), "--tcp=80:8080")
	}
	waitEndpointSlice(t, a, "web")
	waitReplicaSetReplicas(t, a, "app=web", 2)
	before := serviceAddresses(t, a)
	if strings.Contains(b.Output(), "Started EndpointSlice controller") {
		t.Fatal("server B started controllers while A held the lease")
	}

	// Crash the controllers' leader and etcd's leader.
	framework.EtcdLeader(t, members).Kill()
	killed := time.Now()
	a.Kill()

	// B's view: nothing lost, same addresses. (The first reads may fail
	// while the surviving members elect a new raft leader.)
	var after map[string]string
	framework.Eventually(t, 30*time.Second, func() error {
		var err error
		after, err = tryServiceAddresses(b)
		return err
	})
	for name, addr := range before {
		if after[name] != addr {
			t.Errorf("service %s: got %q after the crash, want %q", name, after[name], addr)
		}
	}
	// B takes the lease over once A's expires, and runs the controllers.
	waitLeader(t, b, "server-b_", 60*time.Second)
	t.Logf("server B holds the controllers' lease %s after A was killed", time.Since(killed).Round(100*time.Millisecond))
	for i := range 4 {
		b.MustKubectl("create", "service", "clusterip", fmt.Sprintf("after-%d", i), "--tcp=80:8080")
	}
	b.MustKubectl("create", "service", "nodeport", "after-np", "--tcp=80:8080")
	waitEndpointSlice(t, b, "after-0")
	b.MustKubectl("scale", "deployment", "web", "--replicas=3")
	waitReplicaSetReplicas(t, b, "app=web", 3)

	// A's address leaves the kubernetes Endpoints once its etcd lease of
	// 15s expires.
	waitAPIServerEndpoints(t, b, "172.30.0.2")

	// No value held twice across everything A and B allocated.
	final := serviceAddresses(t, b)
	if len(final) != len(before)+5 {
		t.Errorf("got %d services, want %d", len(final), len(before)+5)
	}
	seen := map[string]string{}
	for name, addr := range final {
		for _, v := range strings.Fields(addr) {
			if other, dup := seen[v]; dup {
				t.Errorf("%s held by both %s and %s", v, other, name)
			}
			seen[v] = name
		}
	}
}

// waitAPIServerEndpoints waits until the kubernetes Endpoints and
// EndpointSlice, read through n, hold exactly addrs.
func waitAPIServerEndpoints(t *testing.T, n *framework.Node, addrs string) {
	t.Helper()
	framework.Eventually(t, 40*time.Second, func() error {
		ep, err := n.Kubectl("get", "endpoints", "kubernetes", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		if err != nil {
			return err
		}
		slice, err := n.Kubectl("get", "endpointslice", "kubernetes", "-o", "jsonpath={.endpoints[*].addresses[*]}")
		if err != nil {
			return err
		}
		if ep != addrs || slice != addrs {
			return fmt.Errorf("kubernetes endpoints %q, slice %q; want %q", ep, slice, addrs)
		}
		return nil
	})
}

// leaseHolder is the holder of the controllers' Lease, read through n.
func leaseHolder(t *testing.T, n *framework.Node) string {
	t.Helper()
	out, _ := n.Kubectl("get", "lease", "-n", "kube-system", "kube-controller-manager", "-o", "jsonpath={.spec.holderIdentity}")
	return out
}

// waitLeader waits until the controllers' Lease, read through n, is held
// by an identity starting with prefix.
func waitLeader(t *testing.T, n *framework.Node, prefix string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		if got := leaseHolder(t, n); !strings.HasPrefix(got, prefix) {
			return fmt.Errorf("lease holder %q, want %s...", got, prefix)
		}
		return nil
	})
}

// waitEndpointSlice waits until the EndpointSlice controller has written
// a slice for Service name.
func waitEndpointSlice(t *testing.T, n *framework.Node, name string) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name="+name, "-o", "name")
		if err != nil || strings.TrimSpace(out) == "" {
			return fmt.Errorf("no EndpointSlice for %s yet: %v", name, err)
		}
		return nil
	})
}

// waitReplicaSetReplicas waits until the Deployment's ReplicaSet (selected
// by selector) wants and owns replicas pods.
func waitReplicaSetReplicas(t *testing.T, n *framework.Node, selector string, replicas int) {
	t.Helper()
	want := fmt.Sprintf("%d/%d", replicas, replicas)
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := n.Kubectl("get", "replicasets", "-l", selector, "-o", "jsonpath={.items[*].spec.replicas}/{.items[*].status.replicas}")
		if err != nil || out != want {
			return fmt.Errorf("replicaset spec/status replicas %q, want %s: %v", out, want, err)
		}
		return nil
	})
}

var serviceLine = regexp.MustCompile(`^(\S+) (.*)$`)

// serviceAddresses maps each default-namespace Service to its ClusterIPs
// and NodePorts ("10.96.0.12 30080/TCP").
func serviceAddresses(t *testing.T, n *framework.Node) map[string]string {
	t.Helper()
	got, err := tryServiceAddresses(n)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func tryServiceAddresses(n *framework.Node) (map[string]string, error) {
	out, err := n.Kubectl("get", "services", "-n", "default", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.clusterIPs[*]}{range .spec.ports[*]} {.nodePort}/TCP{end}{"\n"}{end}`)
	if err != nil {
		return nil, err
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		m := serviceLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			return nil, fmt.Errorf("unexpected line %q", line)
		}
		got[m[1]] = strings.Join(strings.Fields(strings.ReplaceAll(m[2], " /TCP", "")), " ")
	}
	return got, nil
}
