package probe

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ExecFunc runs argv inside the container's sandbox and returns its exit
// code.
type ExecFunc func(ctx context.Context, argv []string) (int, error)

// Target is what a probe checks.
type Target struct {
	// PodIP is used when an httpGet or tcpSocket probe names no host.
	PodIP     string
	Container *v1.Container
	Exec      ExecFunc
}

// Check runs one probe attempt, bounded by the probe's timeout, and reports
// success with a short message on failure.
func Check(ctx context.Context, p *v1.Probe, t Target) (bool, string) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		return checkHTTP(ctx, p.HTTPGet, t)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, t.Container)
		if err != nil {
			return false, err.Error()
		}
		return checkTCP(ctx, hostOr(p.TCPSocket.Host, t.PodIP), port)
	case p.GRPC != nil:
		// Without a gRPC client a connect check stands in for the health RPC.
		return checkTCP(ctx, t.PodIP, int(p.GRPC.Port))
	case p.Exec != nil:
		if t.Exec == nil {
			return false, "exec probes are not supported here"
		}
		code, err := t.Exec(ctx, p.Exec.Command)
		if err != nil {
			return false, err.Error()
		}
		if code != 0 {
			return false, fmt.Sprintf("command exited with %d", code)
		}
		return true, ""
	}
	return false, "probe has no handler"
}

func hostOr(host, podIP string) string {
	if host != "" {
		return host
	}
	return podIP
}

// resolvePort turns a numeric or named port into a number using the
// container's ports.
func resolvePort(port intstr.IntOrString, c *v1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	if c != nil {
		for _, cp := range c.Ports {
			if cp.Name == port.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in the container's ports", port.StrVal)
}

func checkTCP(ctx context.Context, host string, port int) (bool, string) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false, err.Error()
	}
	c.Close()
	return true, ""
}

// checkHTTP succeeds on a status code in [200, 400), as kubelet does;
// redirects are not followed.
func checkHTTP(ctx context.Context, g *v1.HTTPGetAction, t Target) (bool, string) {
	port, err := resolvePort(g.Port, t.Container)
	if err != nil {
		return false, err.Error()
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(hostOr(g.Host, t.PodIP), strconv.Itoa(port))}
	full := u.String() + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("User-Agent", "kube-probe/1.33")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Set(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet does not verify probe certificates
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)
}

// Worker runs one probe periodically.
type Worker struct {
	Probe  *v1.Probe
	Target Target
	// Initial is the result reported before the first attempt decides.
	Initial bool
	// OnResult is called whenever the result changes, and once when the
	// first attempt after the initial delay decides it.
	OnResult func(ok bool, msg string)
}

// Run probes until ctx ends: after initialDelaySeconds, every periodSeconds,
// turning successThreshold consecutive successes into true and
// failureThreshold consecutive failures into false.
func (w *Worker) Run(ctx context.Context) {
	p := w.Probe
	period := time.Duration(p.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	succ, fail := int(p.SuccessThreshold), int(p.FailureThreshold)
	if succ <= 0 {
		succ = 1
	}
	if fail <= 0 {
		fail = 3
	}
	if d := time.Duration(p.InitialDelaySeconds) * time.Second; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	result, decided := w.Initial, false
	var okRun, failRun int
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		ok, msg := Check(ctx, p, w.Target)
		if ctx.Err() != nil {
			return
		}
		if ok {
			okRun, failRun = okRun+1, 0
		} else {
			okRun, failRun = 0, failRun+1
		}
		switch {
		case ok && okRun >= succ && (!result || !decided):
			result, decided = true, true
			w.OnResult(true, "")
		case !ok && failRun >= fail && (result || !decided):
			result, decided = false, true
			w.OnResult(false, msg)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
