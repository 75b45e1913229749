package framework

import (
	"fmt"
	"time"
)

// Kill ends the node's svcnet process with SIGKILL, as a crash does, and
// waits for it to be gone. Its pods' processes keep running.
func (n *Node) Kill() {
	n.t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		n.t.Fatalf("kill svcnet: %v", err)
	}
	select {
	case err := <-n.done:
		n.done <- err // for RestartServer and cleanup
	case <-time.After(30 * time.Second):
		n.t.Fatalf("svcnet did not exit after SIGKILL")
	}
}

// RestartServer starts `svcnet server` again on a node made by StartNode
// or StartServer after Kill, with the same data directory and address
// (and extraArgs), and waits for node1 to be Ready.
func (n *Node) RestartServer(extraArgs ...string) {
	n.t.Helper()
	select {
	case <-n.done:
	default:
		n.t.Fatalf("RestartServer: svcnet still runs; Kill it first")
	}
	n.log.Write([]byte(fmt.Sprintf("--- restarted at %s ---\n", time.Now().Format(time.RFC3339))))
	args := append([]string{"server", "--data-dir", n.DataDir, "--bind-address", "0.0.0.0", "--advertise-address", n.ip,
		"--node-name", "node1"}, extraArgs...)
	n.start(args)
	n.waitNodeReady("node1")
}
