package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/announce"
	"github.com/svcnet/svcnet/test/e2e/framework"
)

// webApp is the seeds' web Deployment. Its pods leave a lost node 3s after
// the taint (upstream's default toleration is 300s) so the test stays fast.
const webApp = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 3}
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: [netexec, --http-port=8080]
        ports: [{containerPort: 8080}]
`

// webLocal sends external traffic only to pods on the receiving node.
const webLocal = `apiVersion: v1
kind: Service
metadata:
  name: web-local
spec:
  type: LoadBalancer
  loadBalancerIP: %s
  externalTrafficPolicy: Local
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`

// The LAN is 172.30.0.0/24: nodes at .1-.3, the outside client at .100,
// LoadBalancer IPs from this pool.
const (
	poolFirst = "172.30.0.200"
	poolLast  = "172.30.0.239"
	clientIP  = "172.30.0.100"
)

// TestCluster runs three nodes (the server and two joined agents, each its
// own network namespace on a LAN bridge) and a client outside the cluster
// on the same LAN. It follows the seeds' NodePort story (figure 6.6: the
// NodePort of every node, also one without a pod of the Service, reaches
// the pods), turns the Service into a LoadBalancer whose pool IP the client
// finds by ARP, and checks that an externalTrafficPolicy Local IP is
// announced only by a node with a local pod. Then an agent node that hosts
// a pod and announces the LB IP drops off the LAN and its agent dies: it
// goes NotReady after the grace period, its pod leaves the endpoints,
// traffic from the client keeps flowing to the remaining pods, another node
// takes the LB IP over, and the Deployment replaces the evicted pod. At
// last the agent restarts, the node is Ready again and gets pods.
func TestCluster(t *testing.T) {
	start := time.Now()
	step := func(format string, args ...any) {
		t.Logf("%5.1fs "+format, append([]any{time.Since(start).Seconds()}, args...)...)
	}
	lan := framework.NewLAN(t)
	server := framework.StartServer(t, lan, "172.30.0.1", "--node-monitor-grace-period=20s", "--node-monitor-period=1s",
		"--loadbalancer-ip-pool="+poolFirst+"-"+poolLast)
	nodes := []*framework.Node{server,
		framework.StartAgent(t, lan, "172.30.0.2", "node2", server),
		framework.StartAgent(t, lan, "172.30.0.3", "node3", server)}
	client := framework.NewHost(t, lan, clientIP)
	step("three nodes Ready")

	// Node DNS answers the cluster (another node here) but is no open
	// resolver for a machine that merely reaches the node address.
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := nodes[1].Exec("dig", "+short", "+time=2", "+tries=1", "@"+server.IP(), "kubernetes.default.svc.cluster.local")
		if err != nil || strings.TrimSpace(out) != "10.96.0.1" {
			return fmt.Errorf("dig from node2: %q %v, want 10.96.0.1", out, err)
		}
		return nil
	})
	if out, _ := client.Exec("dig", "+time=2", "+tries=1", "@"+server.IP(), "kubernetes.default.svc.cluster.local"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("dig from outside the cluster got %q, want REFUSED", out)
	}
	step("node DNS answers node2, refuses the outside client")

	server.Apply(webApp)
	waitReady(t, server, "app=web", 2)
	pods := listPods(t, server)
	// Two pods on three nodes: one node has none. The victim is a joined
	// node with a pod.
	var victim, idle *framework.Node
	for _, n := range nodes {
		switch {
		case len(pods.on(n.Name())) == 0:
			idle = n
		case n != server && victim == nil:
			victim = n
		}
	}
	if idle == nil || victim == nil {
		t.Fatalf("pods on nodes %v: want one node without a pod and a joined node with one", pods)
	}
	step("pods %v; %s has none, %s will be lost", pods, idle.Name(), victim.Name())

	// The seeds' imperative NodePort Service (the port is the pods'
	// containerPort, 8080), reached from outside on every node's address
	// as `kubectl get nodes` lists them.
	server.MustKubectl("expose", "deployment", "web", "--name=web", "--target-port=8080", "--type=NodePort")
	nodePort := server.MustKubectl("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].nodePort}")
	addrs := strings.Fields(server.MustKubectl("get", "nodes", "-o",
		`jsonpath={.items[*].status.addresses[?(@.type=="InternalIP")].address}`))
	if want := []string{nodes[0].IP(), nodes[1].IP(), nodes[2].IP()}; !slices.Equal(addrs, want) {
		t.Fatalf("nodes' InternalIPs %v, want %v", addrs, want)
	}
	for _, ip := range addrs {
		seeAll(t, client, "http://"+ip+":"+nodePort+"/hostname", pods.ready())
	}
	step("NodePort %s of every node reaches both pods from the client", nodePort)

	// The seeds' `kubectl edit` from NodePort to LoadBalancer, with an IP
	// of the pool that the victim announces.
	lbIP := pickIP(t, func(ip netip.Addr) bool { return owner(ip, nodes) == victim.Name() })
	server.MustKubectl("patch", "svc", "web", "-p", `{"spec":{"type":"LoadBalancer","loadBalancerIP":"`+lbIP+`"}}`)
	framework.Eventually(t, 30*time.Second, func() error {
		got, err := server.Kubectl("get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[0].ip}")
		if err != nil || got != lbIP {
			return fmt.Errorf("ingress IP %q (%v), want %s", got, err, lbIP)
		}
		return nil
	})
	seeAll(t, client, "http://"+lbIP+":8080/hostname", pods.ready())
	wantAnnouncer(t, client, lbIP+":8080", victim)
	step("LB IP %s reached through ARP, announced by %s", lbIP, victim.Name())

	// Addresses written into a Service's status by hand (here of a class
	// no controller serves) are announced only when they are pool
	// addresses: the pool one answers, the forged one is not claimed.
	const forgedIP = "172.30.0.150"
	server.Apply(`apiVersion: v1
kind: Service
metadata: {name: forged}
spec:
  type: LoadBalancer
  loadBalancerClass: example.com/none
  selector: {app: web}
  ports: [{port: 8080}]
`)
	server.MustKubectl("patch", "svc", "forged", "--subresource=status", "--type=merge", "-p",
		`{"status":{"loadBalancer":{"ingress":[{"ip":"`+poolLast+`"},{"ip":"`+forgedIP+`"}]}}}`)
	seeAll(t, client, "http://"+poolLast+":8080/hostname", pods.ready())
	if out, err := batch(client, "http://"+forgedIP+":8080/hostname", 1); err == nil {
		t.Errorf("the forged ingress IP %s answered: %q", forgedIP, out)
	}
	server.MustKubectl("delete", "svc", "forged")
	step("a status IP outside the pool is not announced, a pool one is")

	// externalTrafficPolicy Local: an IP that a Cluster election would
	// give the idle node is announced by the victim, a node with a pod,
	// and only the victim's pod answers.
	podNodes := slices.DeleteFunc(slices.Clone(nodes), func(n *framework.Node) bool { return n == idle })
	localIP := pickIP(t, func(ip netip.Addr) bool {
		return ip.String() != lbIP && owner(ip, nodes) == idle.Name() && owner(ip, podNodes) == victim.Name()
	})
	server.Apply(fmt.Sprintf(webLocal, localIP))
	onlyFrom(t, client, localIP, pods.on(victim.Name()))
	wantAnnouncer(t, client, localIP+":80", victim)
	step("externalTrafficPolicy Local IP %s announced by %s, answered by its pod only", localIP, victim.Name())
	// Its NodePort answers with the receiving node's own pod, and not at
	// all on the node without one.
	localPort := server.MustKubectl("get", "svc", "web-local", "-o", "jsonpath={.spec.ports[0].nodePort}")
	for _, n := range podNodes {
		onlyFrom(t, client, n.IP()+":"+localPort, pods.on(n.Name()))
	}
	if hosts, err := batch(client, "http://"+idle.IP()+":"+localPort+"/hostname", 1); err == nil {
		t.Fatalf("Local NodePort of %s, which has no pod, answered %v", idle.Name(), hosts)
	}
	step("its NodePort %s answers with the local pod only, and not on %s", localPort, idle.Name())

	// The victim drops off the LAN and its agent dies.
	lostPod := pods.on(victim.Name())[0]
	victim.Disconnect()
	victim.Kill()
	lost := time.Now()
	since := func() string { return time.Since(lost).Round(100 * time.Millisecond).String() }
	step("%s disconnected and killed", victim.Name())

	framework.Eventually(t, 60*time.Second, func() error {
		st, err := server.Kubectl("get", "node", victim.Name(), "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || st == "True" {
			return fmt.Errorf("%s Ready=%q (%v)", victim.Name(), st, err)
		}
		return nil
	})
	step("%s NotReady %s after the loss", victim.Name(), since())
	framework.Eventually(t, 30*time.Second, func() error {
		st, err := server.Kubectl("get", "pod", lostPod, "-o", "jsonpath={.status.conditions[?(@.type=='Ready')].status}")
		if err != nil || st != "False" {
			return fmt.Errorf("pod %s Ready=%q (%v), want False", lostPod, st, err)
		}
		ready, err := server.Kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o",
			`jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name} {end}`)
		if err != nil || slices.Contains(strings.Fields(ready), lostPod) {
			return fmt.Errorf("ready endpoints %q (%v) still hold %s", ready, err, lostPod)
		}
		return nil
	})
	step("pod %s marked not Ready and out of the ready endpoints %s after the loss", lostPod, since())

	// The client has sent nothing to the LB IP since the loss: only the
	// new owner's gratuitous ARP can have updated its neighbour entry.
	survivors := slices.DeleteFunc(slices.Clone(nodes), func(n *framework.Node) bool { return n == victim })
	heir := nodeNamed(survivors, owner(netip.MustParseAddr(lbIP), survivors))
	framework.Eventually(t, 30*time.Second, func() error { return neighbour(client, lbIP, heir) })
	step("LB IP taken over by %s (gratuitous ARP) %s after the loss", heir.Name(), since())
	targets := []string{"http://" + lbIP + ":8080/hostname"}
	for _, n := range survivors {
		targets = append(targets, "http://"+n.IP()+":"+nodePort+"/hostname")
	}
	for _, u := range targets {
		allSucceed(t, client, u)
	}
	step("every request to the survivors' NodePorts and the LB IP succeeds %s after the loss", since())

	// Eviction: the lost pod is deleted (it stays Terminating while its
	// node is away) and the Deployment replaces it on the idle node.
	var replacement string
	framework.Eventually(t, 60*time.Second, func() error {
		pods = listPods(t, server)
		if p := pods[lostPod]; !p.terminating {
			return fmt.Errorf("pod %s not evicted: %+v", lostPod, p)
		}
		if got := pods.on(idle.Name()); len(got) != 1 || !pods[got[0]].ready || len(pods.ready()) != 2 {
			return fmt.Errorf("pods %v: want a ready replacement on %s", pods, idle.Name())
		}
		replacement = pods.on(idle.Name())[0]
		return nil
	})
	step("replacement %s Ready on %s %s after the loss", replacement, idle.Name(), since())
	for _, u := range targets {
		seeAll(t, client, u, pods.ready())
	}
	// Local: now only the idle node's new pod makes it a candidate besides
	// the first survivor; the hash elects the idle node.
	onlyFrom(t, client, localIP, []string{replacement})
	wantAnnouncer(t, client, localIP+":80", idle)
	step("traffic reaches both ready pods; Local IP moved to %s with the replacement", idle.Name())

	// The node comes back: Ready again, the evicted pod finished, and
	// scaling up puts the new pod there.
	victim.Reconnect()
	victim.Restart()
	step("%s rejoined and Ready", victim.Name())
	framework.Eventually(t, 60*time.Second, func() error {
		pods = listPods(t, server)
		if _, ok := pods[lostPod]; ok {
			return fmt.Errorf("evicted pod %s still there", lostPod)
		}
		taints, err := server.Kubectl("get", "node", victim.Name(), "-o", "jsonpath={.spec.taints}")
		if err != nil || taints != "" {
			return fmt.Errorf("%s taints %q (%v)", victim.Name(), taints, err)
		}
		return nil
	})
	server.MustKubectl("scale", "deployment", "web", "--replicas=3")
	framework.Eventually(t, 60*time.Second, func() error {
		pods = listPods(t, server)
		if got := pods.on(victim.Name()); len(got) != 1 || !pods[got[0]].ready || len(pods.ready()) != 3 {
			return fmt.Errorf("pods %v: want a ready pod on %s", pods, victim.Name())
		}
		return nil
	})
	step("evicted pod gone, taints lifted, new pod Ready on %s", victim.Name())
	seeAll(t, client, "http://"+victim.IP()+":"+nodePort+"/hostname", pods.ready())
	seeAll(t, client, "http://"+lbIP+":8080/hostname", pods.ready())
	wantAnnouncer(t, client, lbIP+":8080", victim)
	step("%s's NodePort and the LB IP (announced by %s again) reach all three pods", victim.Name(), victim.Name())
}

// podInfo is what the test needs of a pod.
type podInfo struct {
	node        string
	ready       bool
	terminating bool
}

type podSet map[string]podInfo

// on returns the names of the pods bound to node, sorted.
func (s podSet) on(node string) []string {
	var out []string
	for name, p := range s {
		if p.node == node {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// ready returns the names of the ready, not terminating pods, sorted.
func (s podSet) ready() []string {
	var out []string
	for name, p := range s {
		if p.ready && !p.terminating {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func listPods(t *testing.T, server *framework.Node) podSet {
	t.Helper()
	out := server.MustKubectl("get", "pods", "-l", "app=web", "-o",
		`jsonpath={range .items[*]}{.metadata.name}|{.spec.nodeName}|{.status.conditions[?(@.type=="Ready")].status}|{.metadata.deletionTimestamp}{"\n"}{end}`)
	s := podSet{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			continue
		}
		s[f[0]] = podInfo{node: f[1], ready: f[2] == "True", terminating: f[3] != ""}
	}
	return s
}

// owner elects the announcer of ip among nodes, all taken as Ready, with
// the announcer's own rule.
func owner(ip netip.Addr, nodes []*framework.Node) string {
	var objs []*v1.Node
	for _, n := range nodes {
		objs = append(objs, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.Name()},
			Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}})
	}
	return announce.Owner(ip, objs)
}

func nodeNamed(nodes []*framework.Node, name string) *framework.Node {
	for _, n := range nodes {
		if n.Name() == name {
			return n
		}
	}
	return nil
}

// pickIP returns the first pool IP that ok accepts.
func pickIP(t *testing.T, ok func(netip.Addr) bool) string {
	t.Helper()
	last := netip.MustParseAddr(poolLast)
	for ip := netip.MustParseAddr(poolFirst); ip.Compare(last) <= 0; ip = ip.Next() {
		if ok(ip) {
			return ip.String()
		}
	}
	t.Fatalf("no IP in %s-%s elects the wanted nodes", poolFirst, poolLast)
	return ""
}

// batch sends n requests over fresh connections and returns the answering
// hostnames, or an error unless every request succeeded.
func batch(client *framework.Node, url string, n int) ([]string, error) {
	args := []string{"curl", "-s", "--connect-timeout", "1", "-m", "2", "-H", "Connection: close", "-w", " %{http_code}\n"}
	for range n {
		args = append(args, url)
	}
	out, _ := client.Exec(args...)
	var hosts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		host, code, _ := strings.Cut(strings.TrimSpace(line), " ")
		if code != "200" || host == "" {
			return nil, fmt.Errorf("%s: answers %q, want %d with 200", url, out, n)
		}
		hosts = append(hosts, host)
	}
	if len(hosts) != n {
		return nil, fmt.Errorf("%s: %d answers of %d", url, len(hosts), n)
	}
	return hosts, nil
}

// allSucceed waits until a whole batch of requests to url succeeds.
func allSucceed(t *testing.T, client *framework.Node, url string) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		_, err := batch(client, url, 10)
		return err
	})
}

// seeAll waits until requests to url succeed and, together, were answered
// by every pod of want.
func seeAll(t *testing.T, client *framework.Node, url string, want []string) {
	t.Helper()
	seen := map[string]bool{}
	framework.Eventually(t, 60*time.Second, func() error {
		hosts, err := batch(client, url, 6)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			seen[h] = true
		}
		for _, p := range want {
			if !seen[p] {
				return fmt.Errorf("%s: hostnames seen %v, want %v", url, seen, want)
			}
		}
		return nil
	})
}

// onlyFrom waits until a whole batch of requests to hostPort is answered
// by the pods of want only.
func onlyFrom(t *testing.T, client *framework.Node, hostPort string, want []string) {
	t.Helper()
	framework.Eventually(t, 60*time.Second, func() error {
		hosts, err := batch(client, "http://"+hostPort+"/hostname", 6)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			if !slices.Contains(want, h) {
				return fmt.Errorf("%s answered by %v, want only %v", hostPort, hosts, want)
			}
		}
		return nil
	})
}

// wantAnnouncer waits until the client resolves the IP of hostPort to n's
// uplink MAC (after a request, so the neighbour entry is fresh).
func wantAnnouncer(t *testing.T, client *framework.Node, hostPort string, n *framework.Node) {
	t.Helper()
	ip, _, _ := strings.Cut(hostPort, ":")
	if n == nil {
		t.Fatalf("no announcer expected for %s", ip)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		_, _ = batch(client, "http://"+hostPort+"/hostname", 1)
		return neighbour(client, ip, n)
	})
}

// neighbour checks that the client's neighbour entry of ip holds n's MAC.
func neighbour(client *framework.Node, ip string, n *framework.Node) error {
	mac := n.MAC()
	out, err := client.Exec("ip", "neigh", "show", ip, "dev", "uplink")
	if err != nil || !strings.Contains(out, "lladdr "+mac) {
		return fmt.Errorf("neighbour entry of %s: %q (%v), want %s's %s", ip, out, err, n.Name(), mac)
	}
	return nil
}
