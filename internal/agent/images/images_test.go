package images

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
		{name: "nginxhttps runs the built-in nginx", c: v1.Container{Image: "bprashanth/nginxhttps:1.0",
			Ports: []v1.ContainerPort{{ContainerPort: 443}, {ContainerPort: 80}}},
			want: []string{"/svcnet", "agnhost", "nginx"}},
		{name: "nginx with a configuration runs the built-in nginx", c: v1.Container{Image: "nginx:1.27",
			VolumeMounts: []v1.VolumeMount{{Name: "c", MountPath: "/etc/nginx/conf.d/"}}},
			want: []string{"/svcnet", "agnhost", "nginx"}},
		{name: "nginxhttps with a command runs it", c: v1.Container{Image: "bprashanth/nginxhttps:1.0", Command: []string{"sleep", "1"}},
			want: []string{"sleep", "1"}},
		{name: "busybox without command runs sh", c: v1.Container{Image: "radial/busyboxplus:curl"}, want: []string{"sh"}},
		{name: "busybox args replace its sh", c: v1.Container{Image: "busybox:1.36", Args: []string{"sleep", "5"}},
			want: []string{"sleep", "5"}},
		{name: "curl image runs curl", c: v1.Container{Image: "curlimages/curl:8.5.0"}, want: []string{"curl"}},
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
		// Upstream's /shell would run any command as host root here.
		{path: "/shell?cmd=echo+a", wantCode: 404, wantBody: "404 page not found\n"},
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
	if got := UDPReply("hostName\n", addr); strings.TrimSpace(got) == "" {
		t.Errorf("hostName got empty reply")
	}
}

func TestNginxConfig(t *testing.T) {
	const seedConf = `server {
        listen 80 default_server;
        listen [::]:80 default_server ipv6only=on;

        listen 443 ssl;

        root /usr/share/nginx/html;
        index index.html;

        server_name localhost;
        ssl_certificate /etc/nginx/ssl/tls.crt;
        ssl_certificate_key /etc/nginx/ssl/tls.key;
        # listen 9999;
}
`
	tests := []struct {
		name  string
		files map[string]string
		want  nginxConfig
	}{
		{name: "the seed's default.conf", files: map[string]string{"default.conf": seedConf},
			want: nginxConfig{Listen: []nginxListener{{Port: 80}, {Port: 443, SSL: true}},
				Certificate: "/etc/nginx/ssl/tls.crt", Key: "/etc/nginx/ssl/tls.key"}},
		{name: "no configuration", want: defaultNginxConfig()},
		{name: "other files are ignored", files: map[string]string{"x.txt": "listen 1;"}, want: defaultNginxConfig()},
		{name: "two files", files: map[string]string{"a.conf": "listen 8443 ssl;\nssl_certificate /c;\nssl_certificate_key /k;",
			"b.conf": "listen 127.0.0.1:8080;"},
			want: nginxConfig{Listen: []nginxListener{{Port: 8443, SSL: true}, {Port: 8080}}, Certificate: "/c", Key: "/k"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := loadNginxConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNginxHandler(t *testing.T) {
	srv := httptest.NewServer(nginxHandler())
	defer srv.Close()
	for path, want := range map[string]int{"/": 200, "/index.html": 200, "/nope": 404} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: got %d, want %d", path, resp.StatusCode, want)
		}
		if want == 200 && !strings.Contains(string(body), "<h1>Welcome to nginx!</h1>") {
			t.Errorf("GET %s: body %q lacks the welcome heading", path, body)
		}
	}
}

func TestNetexecDial(t *testing.T) {
	srv := httptest.NewServer(NetexecHandler(func(int) {}))
	defer srv.Close()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer target.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go serveUDP(pc)
	_, udpPort, _ := net.SplitHostPort(pc.LocalAddr().String())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	tests := []struct {
		name, query string
		wantCode    int
		wantBody    string
	}{
		{"http twice", "request=hostName&protocol=http&host=127.0.0.1&port=" + port + "&tries=2", 200,
			`{"responses":["hostName","hostName"],"errors":[]}`},
		{"udp", "request=echo%20hi&protocol=udp&host=127.0.0.1&port=" + udpPort, 200, `{"responses":["hi"],"errors":[]}`},
		{"nothing listening", "request=x&host=127.0.0.1&port=" + closedPort, 417, ""},
		{"bad protocol", "request=x&protocol=sctp&host=127.0.0.1&port=1", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/dial?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode || (tc.wantBody != "" && strings.TrimSpace(string(body)) != tc.wantBody) {
				t.Errorf("got (%d, %s), want (%d, %s)", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}
