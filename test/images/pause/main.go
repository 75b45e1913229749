// Command pause is the process of a pod sandbox in the test images: it holds
// the pod's namespaces open by doing nothing until it is told to stop.
//
// It exits 0 on SIGINT or SIGTERM and, as PID 1 of a pod sharing its PID
// namespace, reaps every child that is re-parented to it so no zombie is
// left behind. It is built statically (CGO_ENABLED=0) by package testimages.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (svcnet test image)")
		return
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not running as PID 1")
	}
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			fmt.Fprintf(os.Stderr, "pause: shutting down, got signal %v\n", sig)
			os.Exit(0)
		}
		reap()
	}
}

// reap collects the exit status of every child that has ended; several
// SIGCHLDs may be merged into one, so it loops until none is left.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
