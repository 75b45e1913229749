// Command hostname is the web application of the test images that stand
// for the examples' application images (whoami, biz1, nigelpoulton/k8sbook):
// an HTTP server answering every request with the machine's hostname (a
// pod's name), with no newline, as agnhost's serve-hostname does, so a
// client of a Service sees which pod answered.
//
//	hostname -port 8080,8443 -version 4.1
//
// It listens on every port of -port (plain HTTP on each), serves -version
// at /version when given, logs one line per request on stdout, and exits 0
// on SIGINT or SIGTERM (it runs as PID 1, which ignores signals it does not
// handle). It is built statically (CGO_ENABLED=0) by package testimages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// shutdownTimeout bounds the wait for requests in flight at SIGTERM; a
// container's grace period is 30 s by default.
const shutdownTimeout = 5 * time.Second

func main() {
	ports := flag.String("port", "8080", "ports to serve HTTP on, comma-separated")
	version := flag.String("version", "", "version served at /version (none if empty)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stdout, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, strings.Split(*ports, ","), *version); err != nil {
		log.Error("Stopped", "err", err)
		os.Exit(1)
	}
}

// run serves every port until ctx ends or one server fails.
func run(ctx context.Context, log *slog.Logger, ports []string, version string) error {
	name, err := os.Hostname()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Info("Served", "method", r.Method, "path", r.URL.Path, "client", r.RemoteAddr)
		fmt.Fprint(w, name)
	})
	if version != "" {
		mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
			log.Info("Served", "method", r.Method, "path", r.URL.Path, "client", r.RemoteAddr)
			fmt.Fprint(w, version)
		})
	}
	errc := make(chan error, len(ports))
	var servers []*http.Server
	for _, p := range ports {
		ln, err := net.Listen("tcp", ":"+strings.TrimSpace(p))
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		log.Info("Started listening", "addr", ln.Addr().String(), "hostname", name, "version", version)
		go func() { errc <- srv.Serve(ln) }()
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
		log.Info("Received a signal, shutting down", "signal", context.Cause(ctx))
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	for _, srv := range servers {
		_ = srv.Shutdown(sctx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
