package framework

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Client and peer ports of the `svcnet etcd` members, etcd's own.
const (
	etcdClientPort = 2379
	etcdPeerPort   = 2380
)

// StartEtcdCluster runs one `svcnet etcd` member in its own namespace on
// lan at each of ips, bootstrapped together as one cluster, and waits
// until every member serves. It returns the members and their client URLs
// (what --etcd-servers takes).
func StartEtcdCluster(t testing.TB, lan *LAN, ips ...string) ([]*Node, []string) {
	t.Helper()
	var initial, endpoints []string
	for i, ip := range ips {
		initial = append(initial, fmt.Sprintf("etcd%d=http://%s:%d", i, ip, etcdPeerPort))
		endpoints = append(endpoints, fmt.Sprintf("http://%s:%d", ip, etcdClientPort))
	}
	members := make([]*Node, len(ips))
	token := uniqueName("svcnet-e2e-etcd-")
	for i, ip := range ips {
		n := newNode(t, lan, ip)
		n.start([]string{"etcd", "--name", fmt.Sprintf("etcd%d", i), "--data-dir", filepath.Join(n.DataDir, "etcd"),
			"--listen-client-urls", endpoints[i], "--listen-peer-urls", fmt.Sprintf("http://%s:%d", ip, etcdPeerPort),
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", token})
		members[i] = n
	}
	for _, n := range members {
		n.waitLog("Started embedded etcd", 60*time.Second)
	}
	return members, endpoints
}

// EtcdLeader returns the member that is the raft leader of the cluster,
// as each member's /metrics tells (etcd_server_is_leader).
func EtcdLeader(t testing.TB, members []*Node) *Node {
	t.Helper()
	var leader *Node
	Eventually(t, 30*time.Second, func() error {
		for _, m := range members {
			out, err := m.Exec("curl", "-sf", fmt.Sprintf("http://%s:%d/metrics", m.ip, etcdClientPort))
			if err != nil {
				return err
			}
			if strings.Contains(out, "\netcd_server_is_leader 1\n") {
				leader = m
				return nil
			}
		}
		return fmt.Errorf("no etcd member reports itself leader")
	})
	return leader
}

// StartControlPlane runs `svcnet server` named name at ip on lan against
// the external etcd cluster etcdServers, without node components (agent,
// proxy, DNS), and waits until its API answers and it has printed the
// join line.
func StartControlPlane(t testing.TB, lan *LAN, ip, name string, etcdServers []string, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	args := append([]string{"server", "--data-dir", n.DataDir, "--bind-address", "0.0.0.0", "--advertise-address", ip,
		"--node-name", name, "--etcd-servers", strings.Join(etcdServers, ","), "--disable", "agent,proxy,dns"}, extraArgs...)
	n.start(args)
	Eventually(t, 60*time.Second, func() error {
		if err := n.exited(); err != nil {
			return err
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	n.waitLog("join more nodes with", 30*time.Second)
	return n
}

// Output is what the node's svcnet process has printed so far.
func (n *Node) Output() string { return n.log.String() }

// waitLog waits until the node's output contains s.
func (n *Node) waitLog(s string, timeout time.Duration) {
	n.t.Helper()
	Eventually(n.t, timeout, func() error {
		if err := n.exited(); err != nil {
			return err
		}
		if !strings.Contains(n.log.String(), s) {
			return fmt.Errorf("%q not yet in the output of %s", s, n.Netns)
		}
		return nil
	})
}
