package etcd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// freePorts returns n loopback ports free at the time of the call (a
// member's peer URL must be known before any member starts).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func TestThreeMemberClusterSurvivesOneLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ports := freePorts(t, 6)
	var initial []string
	for i := range 3 {
		initial = append(initial, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ports[3+i]))
	}
	members := make([]*Etcd, 3)
	stops := make([]context.CancelFunc, 3)
	errs := make([]chan error, 3)
	for i := range 3 {
		e, err := New(Config{DataDir: t.TempDir(), Name: fmt.Sprintf("m%d", i),
			Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
			ListenClientURLs: []string{fmt.Sprintf("http://127.0.0.1:%d", ports[i])},
			ListenPeerURLs:   []string{fmt.Sprintf("http://127.0.0.1:%d", ports[3+i])},
			InitialCluster:   strings.Join(initial, ","), InitialClusterToken: "test"})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		members[i], stops[i], errs[i] = e, stop, make(chan error, 1)
		go func() { errs[i] <- e.Run(runCtx) }()
	}
	defer func() {
		for i := range 3 {
			stops[i]()
			<-errs[i]
		}
	}()
	var endpoints []string
	for _, m := range members {
		if _, err := m.Client(ctx); err != nil {
			t.Fatalf("Client: %v", err)
		}
		endpoints = append(endpoints, m.Endpoints()...)
	}
	c, err := Dial(ctx, endpoints, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	members0, err := c.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(members0.Members); got != 3 {
		t.Fatalf("got %d members, want 3", got)
	}
	if _, err := c.Put(ctx, "/k", "before"); err != nil {
		t.Fatal(err)
	}

	// Losing one member keeps a quorum: what was written stays, writes go on.
	stops[0]()
	if err := <-errs[0]; err != nil {
		t.Errorf("stopping m0: %v", err)
	}
	errs[0] <- nil
	resp, err := c.Get(ctx, "/k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "before" {
		t.Fatalf("read after losing m0: got %v, %v; want before", resp, err)
	}
	if _, err := c.Put(ctx, "/k", "after"); err != nil {
		t.Fatalf("write after losing m0: %v", err)
	}
}
