package images

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// AgnhostMain runs an agnhost subcommand (args[0]) with its flags; output
// goes to stdout. It returns when the subcommand ends; servers run until
// SIGTERM or SIGINT.
func AgnhostMain(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("agnhost: no subcommand; have netexec, serve-hostname, porter, nginx, test-webserver, pause, dns-suffix, dns-server-list")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch args[0] {
	case "netexec":
		return netexec(ctx, args[1:], stdout)
	case "serve-hostname":
		return serveHostname(ctx, args[1:])
	case "porter":
		return porter(ctx, args[1:], os.Environ())
	case "nginx":
		return nginx(ctx, args[1:])
	case "test-webserver":
		return testWebserver(ctx, args[1:], stdout)
	case "pause":
		<-ctx.Done()
		return nil
	case "dns-suffix":
		return printResolv(stdout, "search")
	case "dns-server-list":
		return printResolv(stdout, "nameserver")
	default:
		return fmt.Errorf("agnhost: unknown subcommand %q", args[0])
	}
}

// printResolv prints the values of the given resolv.conf keyword,
// comma-separated.
func printResolv(w io.Writer, key string) error {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return err
	}
	defer f.Close()
	var vals []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && fields[0] == key {
			vals = append(vals, fields[1:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	_, err = fmt.Fprint(w, strings.Join(vals, ","))
	return err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// NetexecHandler serves netexec's HTTP API. exit is called by /exit.
//
// Upstream's /shell (run any command, given as a query parameter) is left
// out on purpose: the process runtime runs pods as host processes, so it
// would hand host root to anyone who can reach the pod. Run commands in a
// pod with kubectl exec, which the API server authorizes.
func NetexecHandler(exit func(code int)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "NOW: %v", time.Now())
	})
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, hostname()) })
	mux.HandleFunc("/hostName", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, hostname()) })
	mux.HandleFunc("/dial", dial)
	mux.HandleFunc("/clientip", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.RemoteAddr) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if c := r.URL.Query().Get("code"); c != "" {
			if code, err := strconv.Atoi(c); err == nil {
				w.WriteHeader(code)
			}
		}
		fmt.Fprint(w, r.URL.Query().Get("msg"))
	})
	mux.HandleFunc("/header", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Header.Get(r.URL.Query().Get("key")))
	})
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.URL.Query().Get("code"))
		if err != nil || code < 0 || code > 127 {
			http.Error(w, "bad exit code", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go exit(code)
	})
	return mux
}

// dial makes tries requests to host:port over protocol (http, the
// default, or udp) and answers {"responses": [...], "errors": [...]}:
// 200 when the last one succeeded, 417 when not, 400 for bad parameters,
// as agnhost's netexec does.
func dial(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	host, port, request := q.Get("host"), q.Get("port"), q.Get("request")
	protocol := q.Get("protocol")
	if protocol == "" {
		protocol = "http"
	}
	tries := 1
	if t := q.Get("tries"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			http.Error(w, "bad tries", http.StatusBadRequest)
			return
		}
		tries = n
	}
	if host == "" || port == "" || (protocol != "http" && protocol != "udp") {
		http.Error(w, "host, port and protocol http or udp are required", http.StatusBadRequest)
		return
	}
	addr := net.JoinHostPort(host, port)
	out := struct {
		Responses []string `json:"responses"`
		Errors    []string `json:"errors"`
	}{Responses: []string{}, Errors: []string{}}
	var last error
	for range tries {
		var resp string
		if protocol == "udp" {
			resp, last = dialUDP(addr, request)
		} else {
			resp, last = dialHTTP(r.Context(), addr, request)
		}
		if last != nil {
			out.Errors = append(out.Errors, last.Error())
		} else {
			out.Responses = append(out.Responses, resp)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if last != nil {
		w.WriteHeader(http.StatusExpectationFailed)
	}
	_ = json.NewEncoder(w).Encode(out)
}

func dialHTTP(ctx context.Context, addr, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/"+strings.TrimPrefix(path, "/"), nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, body)
	}
	return string(body), nil
}

func dialUDP(addr, request string) (string, error) {
	conn, err := net.DialTimeout("udp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return "", err
	}
	if _, err := conn.Write([]byte(request)); err != nil {
		return "", err
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// UDPReply answers one netexec UDP request: "hostname" (in any case: the
// e2e suite sends "hostName"), "echo <x>" or "clientip".
func UDPReply(req string, client net.Addr) string {
	req = strings.TrimSpace(req)
	switch {
	case strings.EqualFold(req, "hostname"):
		return hostname()
	case strings.HasPrefix(req, "echo "):
		return strings.TrimPrefix(req, "echo ")
	case req == "clientip":
		return client.String()
	}
	return ""
}

func netexec(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("netexec", flag.ContinueOnError)
	httpPort := fs.Int("http-port", 8080, "HTTP port")
	udpPort := fs.Int("udp-port", 8081, "UDP port; -1 disables")
	fs.Int("sctp-port", -1, "SCTP port (not supported)")
	delay := fs.Int("delay-shutdown", 0, "seconds to keep serving after SIGTERM")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exitc := make(chan int, 1)
	srv := &http.Server{Addr: ":" + strconv.Itoa(*httpPort), Handler: NetexecHandler(func(c int) { exitc <- c }),
		ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 2)
	go func() { errc <- srv.ListenAndServe() }()
	if *udpPort >= 0 {
		pc, err := net.ListenPacket("udp", ":"+strconv.Itoa(*udpPort))
		if err != nil {
			return fmt.Errorf("listening on UDP: %w", err)
		}
		defer pc.Close()
		go serveUDP(pc)
	}
	fmt.Fprintf(stdout, "Started HTTP server on port %d\n", *httpPort)
	select {
	case <-ctx.Done():
		if *delay > 0 {
			time.Sleep(time.Duration(*delay) * time.Second) // keep serving, as upstream's --delay-shutdown
		}
		return srv.Close()
	case code := <-exitc:
		srv.Close()
		os.Exit(code)
		return nil
	case err := <-errc:
		return err
	}
}

func serveUDP(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if reply := UDPReply(string(buf[:n]), addr); reply != "" {
			_, _ = pc.WriteTo([]byte(reply), addr)
		}
	}
}

// serveHostname answers the hostname over HTTP on each port of --port (a
// comma-separated list; default 9376).
func serveHostname(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve-hostname", flag.ContinueOnError)
	ports := fs.String("port", "9376", "port(s), comma-separated")
	fs.Bool("http", true, "serve HTTP")
	udp := fs.Bool("udp", false, "also answer UDP datagrams")
	fs.Bool("tcp", false, "ignored")
	fs.Bool("close", false, "ignored")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, hostname()) })
	errc := make(chan error, 1)
	var servers []*http.Server
	for _, p := range strings.Split(*ports, ",") {
		srv := &http.Server{Addr: ":" + p, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { errc <- srv.ListenAndServe() }()
		if *udp {
			pc, err := net.ListenPacket("udp", ":"+p)
			if err != nil {
				return fmt.Errorf("listening on UDP: %w", err)
			}
			defer pc.Close()
			go func() {
				buf := make([]byte, 2048)
				for {
					_, addr, err := pc.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = pc.WriteTo([]byte(hostname()), addr)
				}
			}()
		}
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	for _, s := range servers {
		s.Close()
	}
	return nil
}
