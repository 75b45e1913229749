package images

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

func TestArgv(t *testing.T) {
	self := []string{"/svcnet"}
	const agn = "registry.k8s.io/e2e-test-images/agnhost:2.53"
	tests := []struct {
		name string
		c    v1.Container
		want []string
	}{
		{name: "agnhost args", c: v1.Container{Image: agn, Args: []string{"netexec", "--http-port=8080"}},
			want: []string{"/svcnet", "agnhost", "netexec", "--http-port=8080"}},
		{name: "agnhost entrypoint in command", c: v1.Container{Image: agn, Command: []string{"/agnhost", "serve-hostname"}},
			want: []string{"/svcnet", "agnhost", "serve-hostname"}},
		{name: "agnhost without args pauses", c: v1.Container{Image: agn}, want: []string{"/svcnet", "agnhost", "pause"}},
		{name: "agnhost with shell command runs it", c: v1.Container{Image: agn, Command: []string{"sh", "-c", "true"}},
			want: []string{"sh", "-c", "true"}},
		{name: "other image command and args", c: v1.Container{Image: "busybox", Command: []string{"sleep"}, Args: []string{"10"}},
			want: []string{"sleep", "10"}},
		{name: "image without command serves hostname on its ports", c: v1.Container{Image: "nginx",
			Ports: []v1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: v1.ProtocolUDP}, {ContainerPort: 8080}}},
			want: []string{"/svcnet", "agnhost", "serve-hostname", "--http=true", "--port=80,8080"}},
		{name: "image without command or ports pauses", c: v1.Container{Image: "nginx"},
			want: []string{"/svcnet", "agnhost", "pause"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Argv(&tc.c, self)); diff != "" {
				t.Errorf("Argv() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNetexecHandler(t *testing.T) {
	exited := make(chan int, 1)
	srv := httptest.NewServer(NetexecHandler(func(c int) { exited <- c }))
	defer srv.Close()
	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{path: "/echo?msg=hi", wantCode: 200, wantBody: "hi"},
		{path: "/echo?msg=x&code=503", wantCode: 503, wantBody: "x"},
		{path: "/healthz", wantCode: 200, wantBody: "ok"},
		{path: "/readyz", wantCode: 200, wantBody: "ok"},
		{path: "/shell?cmd=echo+a", wantCode: 200, wantBody: `{"output":"a\n"}` + "\n"},
		{path: "/exit?code=3", wantCode: 204},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || string(body) != tc.wantBody {
				t.Errorf("got (%d, %q), want (%d, %q)", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
		})
	}
	if got := <-exited; got != 3 {
		t.Errorf("exit code got %d, want 3", got)
	}
	resp, err := http.Get(srv.URL + "/clientip")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if host, _, err := net.SplitHostPort(string(body)); err != nil || host != "127.0.0.1" {
		t.Errorf("/clientip got %q, want 127.0.0.1:<port>", body)
	}
}

func TestUDPReply(t *testing.T) {
	addr := &net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 5}
	if got := UDPReply("echo hello\n", addr); got != "hello" {
		t.Errorf("echo got %q, want hello", got)
	}
	if got := UDPReply("clientip", addr); got != "10.0.0.1:5" {
		t.Errorf("clientip got %q, want 10.0.0.1:5", got)
	}
	if got := UDPReply("hostname", addr); strings.TrimSpace(got) == "" {
		t.Errorf("hostname got empty reply")
	}
}
