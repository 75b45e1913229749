package framework

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/svcnet/svcnet/internal/pki"
)

// KubeAPIServer is upstream kube-apiserver with its etcd, each a process
// in one node's namespace. The Node's Kubectl and Kubeconfig are the
// admin's (a client certificate in system:masters).
type KubeAPIServer struct {
	*Node
	APIServer, Etcd *Process
	// EtcdVersion says which etcd runs: "etcd" (the peer build) or
	// "svcnet etcd".
	EtcdVersion string
	pki         *pki.PKI
}

// kubeServiceCIDR is kube-apiserver's --service-cluster-ip-range, the
// default of svcnet's server and agent too.
const kubeServiceCIDR = "10.96.0.0/12"

// StartKubeAPIServer runs kube-apiserver (built by hack/build-e2e.sh) in a
// fresh namespace at ip on lan (lan may be nil), with etcd on the
// namespace's loopback: the peer etcd when it was built, else `svcnet
// etcd`. Its serving, client and service-account keys come from a
// throwaway CA made for it; authorization is Node,RBAC with NodeRestriction,
// as kubeadm sets it up. It waits until /readyz answers. The test is
// skipped when kube-apiserver was not built.
func StartKubeAPIServer(t testing.TB, lan *LAN, ip string, extraArgs ...string) *KubeAPIServer {
	t.Helper()
	apiserver := RequirePeerBinary(t, "kube-apiserver")
	n := newNode(t, lan, ip)
	n.name = "kube-apiserver"
	p, err := pki.Load(pki.Config{Dir: filepath.Join(n.DataDir, "pki"), Hosts: []string{ip, "10.96.0.1"},
		ClusterDomain: "cluster.local"})
	if err != nil {
		t.Fatalf("throwaway CA: %v", err)
	}
	if err := p.WriteKubeconfig(n.kubeconfig, "https://127.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	// --service-account-key-file takes public keys only.
	saPub := filepath.Join(n.DataDir, "pki", "sa.pub")
	der, err := x509.MarshalPKIXPublicKey(p.ServiceAccountKey().Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &KubeAPIServer{Node: n, pki: p}
	etcdDir := filepath.Join(n.DataDir, "etcd")
	const etcdURL = "http://127.0.0.1:2379"
	if bin, err := PeerBinary("etcd"); err == nil {
		k.EtcdVersion = "etcd"
		k.Etcd = n.StartProcess("etcd", bin, "--name", "default", "--data-dir", etcdDir,
			"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
			"--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
			"--initial-cluster", "default=http://127.0.0.1:2380", "--log-level", "warn")
	} else {
		k.EtcdVersion = "svcnet etcd"
		k.Etcd = n.StartProcess("svcnet etcd", Binary(t), "etcd", "--name", "default", "--data-dir", etcdDir,
			"--listen-client-urls", etcdURL)
	}
	dir := filepath.Join(n.DataDir, "pki")
	args := append([]string{
		"--etcd-servers", etcdURL,
		"--bind-address", "0.0.0.0", "--secure-port", "6443", "--advertise-address", ip,
		"--tls-cert-file", filepath.Join(dir, "server.crt"), "--tls-private-key-file", filepath.Join(dir, "server.key"),
		"--client-ca-file", filepath.Join(dir, "ca.crt"),
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saPub,
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
		"--service-cluster-ip-range", kubeServiceCIDR,
		"--authorization-mode", "Node,RBAC", "--enable-admission-plugins", "NodeRestriction",
		// Without it kube-apiserver would write a self-signed pair to
		// /var/run/kubernetes, outside the test's directories.
		"--cert-dir", filepath.Join(n.DataDir, "apiserver-certs"),
	}, extraArgs...)
	k.APIServer = n.StartProcess("kube-apiserver", apiserver, args...)
	Eventually(t, 120*time.Second, func() error {
		for _, p := range []*Process{k.Etcd, k.APIServer} {
			if err := p.Exited(); err != nil {
				t.Fatalf("%v\n%s", err, p.Output())
			}
		}
		_, err := n.Kubectl("get", "--raw", "/readyz")
		return err
	})
	return k
}

// RemoteKubeconfig writes a kubeconfig for reaching the API server from
// another namespace (at https://<ip>:6443) into dir and returns its path:
// the admin's client certificate, or, with token set, that bearer token
// (e.g. a ServiceAccount's from `kubectl create token`).
func (k *KubeAPIServer) RemoteKubeconfig(dir, token string) string {
	k.t.Helper()
	cfg, err := clientcmd.LoadFromFile(k.kubeconfig)
	if err != nil {
		k.t.Fatalf("load %s: %v", k.kubeconfig, err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + k.ip + ":6443"
	}
	name := "admin-kubeconfig.yaml"
	if token != "" {
		name = "token-kubeconfig.yaml"
		for key := range cfg.AuthInfos {
			cfg.AuthInfos[key] = &clientcmdapi.AuthInfo{Token: token}
		}
	}
	path := filepath.Join(dir, name)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		k.t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		k.t.Fatal(err)
	}
	return path
}

// StartAgentWithKubeconfig runs `svcnet agent --kubeconfig kubeconfig`
// named name at ip on lan: svcnet's node components on a node of an API
// server svcnet did not make, with the credentials of kubeconfig.
// extraArgs follow (e.g. --disable agent).
func StartAgentWithKubeconfig(t testing.TB, lan *LAN, ip, name, kubeconfig string, extraArgs ...string) *Node {
	t.Helper()
	n := newNode(t, lan, ip)
	n.name = name
	n.start(append([]string{"agent", "--kubeconfig", kubeconfig, "--hostname-override", name,
		"--data-dir", n.DataDir}, extraArgs...))
	return n
}
