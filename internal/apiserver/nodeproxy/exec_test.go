package nodeproxy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestExecConnector(t *testing.T) {
	pod := func(node string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
			Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		query   string
		wantURL string
		wantErr string
	}{
		{"forwarded", pod("node1", corev1.PodRunning), "command=sh&command=-c&command=exit+3&stdout=true&stderr=true",
			"/exec/ns/p/c?command=sh&command=-c&command=exit+3&stderr=true&stdin=false&stdout=true&tty=false", ""},
		{"no command", pod("node1", corev1.PodRunning), "stdout=true", "",
			"you must specify at least one command for the container"},
		{"no stream", pod("node1", corev1.PodRunning), "command=true", "",
			"you must specify at least 1 of stdin, stdout, stderr"},
		{"completed pod", pod("node1", corev1.PodSucceeded), "command=true&stdout=true", "",
			"cannot exec into a container in a completed pod; current phase is Succeeded"},
		{"unscheduled", pod("", corev1.PodPending), "command=true&stdout=true", "", "pod p does not have a host assigned"},
		{"other node", pod("node2", corev1.PodRunning), "command=true&stdout=true", "",
			`no agent of node "node2" is reachable from this API server`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n Nodes
			var got string
			n.RegisterExec("node1", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.URL.String() }))
			r := httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/ns/pods/p/exec?"+tc.query, nil)
			err := n.ExecConnector()(httptest.NewRecorder(), r, tc.pod)
			checkForwarded(t, err, got, tc.wantURL, tc.wantErr)
		})
	}
}

func TestAttachConnector(t *testing.T) {
	pod := func(node string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"},
			Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		query   string
		wantURL string
		wantErr string
	}{
		{"forwarded", pod("node1", corev1.PodRunning), "container=c&stdin=true&stdout=true&command=ignored",
			"/attach/ns/p/c?stderr=false&stdin=true&stdout=true&tty=false", ""},
		{"no stream", pod("node1", corev1.PodRunning), "", "", "you must specify at least 1 of stdin, stdout, stderr"},
		{"completed pod", pod("node1", corev1.PodFailed), "stdout=true", "",
			"cannot attach to a container in a completed pod; current phase is Failed"},
		{"unknown container", pod("node1", corev1.PodRunning), "container=x&stdout=true", "", "container x is not valid for pod p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n Nodes
			var got string
			n.RegisterAttach("node1", http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.URL.String() }))
			r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/ns/pods/p/attach?"+tc.query, nil)
			err := n.AttachConnector()(httptest.NewRecorder(), r, tc.pod)
			checkForwarded(t, err, got, tc.wantURL, tc.wantErr)
		})
	}
}

// checkForwarded checks a connector's outcome: the error wantErr, or (with
// wantErr empty) a request forwarded to the agent as wantURL.
func checkForwarded(t *testing.T, err error, got, wantURL, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("got %v, want error %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != wantURL {
		t.Errorf("got URL %q, want %q", got, wantURL)
	}
}
