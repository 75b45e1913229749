package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/svcnet/svcnet/test/e2e/framework"
)

// TestRunAttach runs `kubectl run -i --rm`: kubectl creates a pod with
// stdin, attaches to it (pods/attach), sends its input and prints the
// output, and deletes the pod once the container has exited.
func TestRunAttach(t *testing.T) {
	n := framework.StartNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append(append([]string{"netns", "exec", n.Netns}, n.KubectlArgs()...),
		"run", "reader", "-i", "--rm", "--restart=Never", "--image=busybox", "--",
		"sh", "-c", `read line; echo "got:$line"; read more; echo "then:$more"`)...)
	cmd.Stdin = strings.NewReader("hello\nworld\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl run -i --rm: %v\n%s", err, out.String())
	}
	for _, want := range []string{"got:hello", "then:world"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("kubectl run output lacks %q:\n%s", want, out.String())
		}
	}
	framework.Eventually(t, 30*time.Second, func() error {
		out, err := n.Kubectl("get", "pods", "-o", "name")
		if err != nil || out != "" {
			return fmt.Errorf("pods left after --rm: %q %v", out, err)
		}
		return nil
	})
}
