package integration

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/test/integration/framework"
)

const agentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
`

// readyNodes creates Ready nodes, as joined agents would.
func readyNodes(t *testing.T, ts *framework.TestServer, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		n, err := ts.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name,
			Labels: map[string]string{"kubernetes.io/hostname": name}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}}
		if _, err := ts.Client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// standInAgents runs the pods bound to a node as the agents would, at
// once: Running and Ready, and deleted for good once terminating.
func standInAgents(t *testing.T, ts *framework.TestServer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond) // a poll, as the agents' status loop
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			pods, err := ts.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for _, p := range pods.Items {
				switch {
				case p.Spec.NodeName == "":
				case p.DeletionTimestamp != nil:
					zero := int64(0)
					_ = ts.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
				case p.Status.Phase != corev1.PodRunning:
					p.Status.Phase = corev1.PodRunning
					p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.Now()}}
					_, _ = ts.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, &p, metav1.UpdateOptions{})
				}
			}
		}
	}()
}

// TestDaemonSetKubectl drives a DaemonSet with stock kubectl against the
// real controllers and scheduler: get and describe, rollout status,
// history and undo, the 422 of an invalid one, and deletion taking its
// pods along.
func TestDaemonSetKubectl(t *testing.T) {
	ts := framework.Start(t, framework.Options{Modify: withControllers})
	readyNodes(t, ts, "node-a", "node-b")
	standInAgents(t, ts)
	ts.MustKubectl(t, "", agentDaemonSet, "apply", "-f", "-")
	if out := ts.MustKubectl(t, "", "", "rollout", "status", "ds/agent", "--timeout=60s"); !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
		t.Errorf("rollout status: %s", out)
	}
	nodesOf := func() ([]string, error) {
		pods, err := ts.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return nil, err
		}
		var nodes []string
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				nodes = append(nodes, p.Spec.NodeName+"="+p.Spec.Containers[0].Image)
			}
		}
		sort.Strings(nodes)
		return nodes, nil
	}
	want := "[node-a=registry.k8s.io/e2e-test-images/agnhost:2.53 node-b=registry.k8s.io/e2e-test-images/agnhost:2.53]"
	if got, err := nodesOf(); err != nil || fmt.Sprint(got) != want {
		t.Errorf("pods on nodes %v (%v), want %s", got, err, want)
	}
	out := ts.MustKubectl(t, "", "", "get", "ds")
	if fields := strings.Fields(out); len(fields) < 17 || strings.Join(fields[:9], " ") != "NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE" ||
		strings.Join(fields[9:16], " ") != "agent 2 2 2 2 2 <none>" {
		t.Errorf("kubectl get ds:\n%s", out)
	}
	if out := ts.MustKubectl(t, "", "", "get", "all"); !strings.Contains(out, "daemonset.apps/agent") {
		t.Errorf("kubectl get all lacks the DaemonSet:\n%s", out)
	}
	out = ts.MustKubectl(t, "", "", "describe", "ds", "agent")
	for _, want := range []string{"Desired Number of Nodes Scheduled: 2", "Number of Nodes Scheduled with Up-to-date Pods: 2",
		"Pods Status:  2 Running / 0 Waiting / 0 Succeeded / 0 Failed", "SuccessfulCreate"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe ds lacks %q:\n%s", want, out)
		}
	}

	// An image update rolls to both nodes; history and undo work on the
	// ControllerRevisions.
	ts.MustKubectl(t, "", "", "set", "image", "ds/agent", "agent=registry.k8s.io/e2e-test-images/agnhost:2.54")
	if gen := ts.MustKubectl(t, "", "", "get", "ds", "agent", "-o", `jsonpath={.metadata.annotations.deprecated\.daemonset\.template\.generation}`); gen != "2" {
		t.Errorf("templateGeneration after set image: %q, want 2", gen)
	}
	ts.MustKubectl(t, "", "", "rollout", "status", "ds/agent", "--timeout=60s")
	framework.Eventually(t, 30*time.Second, func() error {
		got, err := nodesOf()
		if want := strings.ReplaceAll(want, "2.53", "2.54"); err != nil || fmt.Sprint(got) != want {
			return fmt.Errorf("pods on nodes %v (%v), want %s", got, err, want)
		}
		return nil
	})
	if out := ts.MustKubectl(t, "", "", "rollout", "history", "ds/agent"); !revisions(out, "1", "2") {
		t.Errorf("rollout history:\n%s", out)
	}
	ts.MustKubectl(t, "", "", "rollout", "undo", "ds/agent")
	ts.MustKubectl(t, "", "", "rollout", "status", "ds/agent", "--timeout=60s")
	framework.Eventually(t, 30*time.Second, func() error {
		if got, err := nodesOf(); err != nil || fmt.Sprint(got) != want {
			return fmt.Errorf("pods on nodes %v (%v), want %s", got, err, want)
		}
		if out := ts.MustKubectl(t, "", "", "rollout", "history", "ds/agent"); !revisions(out, "2", "3") {
			return fmt.Errorf("rollout history after undo:\n%s", out)
		}
		return nil
	})
	if out := ts.MustKubectl(t, "", "", "rollout", "history", "ds/agent", "--revision=3"); !strings.Contains(out, "agnhost:2.53") {
		t.Errorf("rollout history --revision=3:\n%s", out)
	}

	// Validation answers 422 with upstream's field path.
	bad := strings.Replace(strings.Replace(agentDaemonSet, "name: agent", "name: bad", 1), "labels: {app: agent}", "labels: {app: other}", 1)
	if _, err := ts.Kubectl(t, "", bad, "apply", "-f", "-"); err == nil ||
		!strings.Contains(err.Error(), `The DaemonSet "bad" is invalid: spec.template.metadata.labels: Invalid value:`) ||
		!strings.Contains(err.Error(), "`selector` does not match template `labels`") {
		t.Errorf("apply of a DaemonSet whose selector does not match: %v", err)
	}

	ts.MustKubectl(t, "", "", "delete", "ds", "agent")
	framework.Eventually(t, 30*time.Second, func() error {
		pods, err := ts.Client.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			return err
		}
		if len(pods.Items) > 0 {
			return fmt.Errorf("%d pods left after deleting the DaemonSet", len(pods.Items))
		}
		revs, err := ts.Client.AppsV1().ControllerRevisions("default").List(context.Background(), metav1.ListOptions{})
		if err != nil || len(revs.Items) > 0 {
			return fmt.Errorf("controller revisions left: %d (%v)", len(revs.Items), err)
		}
		return nil
	})
}

// revisions reports whether kubectl rollout history lists exactly nums.
func revisions(out string, nums ...string) bool {
	var got []string
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) > 0 && f[0] != "REVISION" {
			got = append(got, f[0])
		}
	}
	return fmt.Sprint(got) == fmt.Sprint(nums)
}
