package framework

// RestartServer starts `svcnet server` again on a node made by StartNode
// or StartServer after Kill, with the same data directory and address but
// extraArgs in place of the first start's extra arguments, and waits for
// node1 to be Ready. Restart reuses the first start's arguments instead.
func (n *Node) RestartServer(extraArgs ...string) {
	n.t.Helper()
	if p := n.process(); p != nil {
		select {
		case <-p.done:
		default:
			n.t.Fatalf("RestartServer: svcnet still runs; Kill it first")
		}
	}
	n.log.Write([]byte("=== restarted\n"))
	n.start(n.serverArgs(extraArgs))
	n.waitNodeReady(n.name)
}
