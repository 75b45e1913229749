package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/svcnet/svcnet/test/integration/framework"
)

// svcnetBinary is $SVCNET_BINARY or a fresh build of cmd/svcnet.
func svcnetBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("SVCNET_BINARY"); b != "" {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	out := filepath.Join(t.TempDir(), "svcnet")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/svcnet")
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serverProcess is a control plane running as a process of its own (so it
// can be killed with SIGKILL).
type serverProcess struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{} // closed once the process is gone and reaped
}

// lockedBuffer is the process's output, written by exec's copying
// goroutines and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startProcess runs the control plane on dir until the test ends and
// returns it with a client once it serves. The API port is picked free
// just before the start; the embedded etcd may take the same port in
// between, so a start that fails with "address already in use" is retried
// on another port.
func startProcess(t *testing.T, bin, dir string) (*serverProcess, kubernetes.Interface) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		srv := &serverProcess{log: &lockedBuffer{}, exited: make(chan struct{})}
		srv.cmd = exec.Command(bin, "server", "--data-dir", dir, "--bind-address", "127.0.0.1",
			"--secure-port", strconv.Itoa(freePort(t)), "--disable", "agent,proxy,dns,controllers")
		srv.cmd.Stdout, srv.cmd.Stderr = srv.log, srv.log
		if err := srv.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = srv.cmd.Wait(); close(srv.exited) }()
		t.Cleanup(func() {
			_ = srv.cmd.Process.Kill()
			<-srv.exited
			if t.Failed() {
				t.Logf("server log:\n%s", srv.log.String())
			}
		})
		client, err := waitServing(dir, srv.exited)
		if err == nil {
			return srv, client
		}
		if attempt < 3 && strings.Contains(srv.log.String(), "address already in use") {
			t.Logf("server start %d: %v; retrying on another port", attempt, err)
			continue
		}
		t.Fatalf("server start %d: %v", attempt, err)
	}
}

// waitServing polls, for at most a minute, until the server writing
// dir/kubeconfig.yaml answers, and gives up at once if it exits.
func waitServing(dir string, exited <-chan struct{}) (kubernetes.Interface, error) {
	var last error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return nil, fmt.Errorf("the server exited: %v", last)
		default:
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig.yaml"))
		if err == nil {
			cfg.QPS, cfg.Burst = 500, 1000
			var c kubernetes.Interface
			if c, err = kubernetes.NewForConfig(cfg); err == nil {
				if _, err = c.CoreV1().Services("default").Get(context.Background(), "kubernetes", metav1.GetOptions{}); err == nil {
					return c, nil
				}
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond) // poll pacing, not synchronisation
	}
	return nil, fmt.Errorf("not serving after 1m: %v", last)
}

// TestKillDuringWritesLosesNothing kills the server with SIGKILL while
// clients create NodePort Services, restarts it on the same data dir and
// checks that every acknowledged Service is there with a unique ClusterIP
// and NodePort, and that allocation still works afterwards.
func TestKillDuringWritesLosesNothing(t *testing.T) {
	bin, dir := svcnetBinary(t), t.TempDir()
	srv, client := startProcess(t, bin, dir)
	ctx := context.Background()
	var mu sync.Mutex
	acked := map[string]*corev1.Service{}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s-%d-%d", w, i)},
					Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}
				created, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[created.Name] = created
				mu.Unlock()
			}
		}(w)
	}
	framework.Eventually(t, 60*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 50 {
			return fmt.Errorf("%d services acknowledged", len(acked))
		}
		return nil
	})
	if err := srv.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	<-srv.exited

	_, client = startProcess(t, bin, dir)
	list, err := client.CoreV1().Services("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]corev1.Service{}
	ips, ports := map[string]string{}, map[int32]string{}
	for _, s := range list.Items {
		stored[s.Name] = s
		if other, dup := ips[s.Spec.ClusterIP]; dup {
			t.Errorf("clusterIP %s held by %s and %s", s.Spec.ClusterIP, other, s.Name)
		}
		ips[s.Spec.ClusterIP] = s.Name
		for _, p := range s.Spec.Ports {
			if p.NodePort == 0 {
				continue
			}
			if other, dup := ports[p.NodePort]; dup {
				t.Errorf("nodePort %d held by %s and %s", p.NodePort, other, s.Name)
			}
			ports[p.NodePort] = s.Name
		}
	}
	for name, want := range acked {
		got, ok := stored[name]
		if !ok {
			t.Errorf("acknowledged service %s lost", name)
			continue
		}
		if got.Spec.ClusterIP != want.Spec.ClusterIP || got.Spec.Ports[0].NodePort != want.Spec.Ports[0].NodePort {
			t.Errorf("%s: got %s/%d, want %s/%d", name, got.Spec.ClusterIP, got.Spec.Ports[0].NodePort,
				want.Spec.ClusterIP, want.Spec.Ports[0].NodePort)
		}
	}
	// Every stored ClusterIP is exactly one IPAddress of its Service, and
	// no IPAddress outlives its Service (no leak, no orphan after the kill).
	addrs, err := client.NetworkingV1().IPAddresses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, a := range addrs.Items {
		ref := a.Spec.ParentRef
		if ref != nil && ref.Namespace == "kube-system" {
			continue // kube-dns
		}
		if ref == nil || ref.Resource != "services" || ref.Namespace != "default" || ips[a.Name] != ref.Name {
			t.Errorf("IPAddress %s: parentRef %+v, want the Service holding it (%q)", a.Name, ref, ips[a.Name])
		}
		seen[a.Name] = true
	}
	for ip, name := range ips {
		if !seen[ip] {
			t.Errorf("clusterIP %s of %s has no IPAddress", ip, name)
		}
	}
	// Requesting a held IP is refused; fresh allocations still succeed.
	for name, s := range acked {
		_, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "thief"},
			Spec: corev1.ServiceSpec{ClusterIP: s.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err == nil {
			t.Errorf("IP %s of %s given twice", s.Spec.ClusterIP, name)
		}
		break
	}
	for i := 0; i < 20; i++ {
		if _, err := client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("after-%d", i)},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create after restart: %v", err)
		}
	}
	t.Logf("%d services acknowledged before SIGKILL, %d stored", len(acked), len(list.Items)-1)
}
