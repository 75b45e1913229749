package healthcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Service is what the server needs to know of one Service.
type Service struct {
	// Port is spec.healthCheckNodePort.
	Port int32
	// LocalEndpoints counts this node's ready endpoints of the Service.
	LocalEndpoints int
}

// Config configures a Server.
type Config struct {
	// Healthy reports whether the proxy keeps up (nil: always).
	Healthy func() bool
	// Listen opens the listener of one port (nil: TCP on all addresses).
	Listen func(port int32) (net.Listener, error)
	Logger *slog.Logger
}

// Server runs one HTTP server per health-check node port.
type Server struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	servers map[types.NamespacedName]*portServer
}

type portServer struct {
	port  int32
	srv   *http.Server
	mu    sync.Mutex
	local int
}

// New returns a Server with no ports open.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Listen == nil {
		cfg.Listen = func(port int32) (net.Listener, error) {
			return net.Listen("tcp", ":"+strconv.Itoa(int(port)))
		}
	}
	return &Server{cfg: cfg, log: cfg.Logger, servers: map[types.NamespacedName]*portServer{}}
}

// Sync opens the ports of new Services, closes those of Services no longer
// listed (or whose port changed) and updates the endpoint counts. A port
// that cannot be opened is logged and retried on the next Sync.
func (s *Server) Sync(services map[types.NamespacedName]Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, ps := range s.servers {
		if want, ok := services[name]; !ok || want.Port != ps.port {
			_ = ps.srv.Close()
			delete(s.servers, name)
		}
	}
	for name, want := range services {
		ps, ok := s.servers[name]
		if !ok {
			var err error
			if ps, err = s.open(name, want.Port); err != nil {
				s.log.Error("Failed to open health check node port", "service", name, "port", want.Port, "err", err)
				continue
			}
			s.servers[name] = ps
		}
		ps.mu.Lock()
		ps.local = want.LocalEndpoints
		ps.mu.Unlock()
	}
}

// Close closes every port.
func (s *Server) Close() {
	s.Sync(nil)
}

func (s *Server) open(name types.NamespacedName, port int32) (*portServer, error) {
	ln, err := s.cfg.Listen(port)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	ps := &portServer{port: port}
	ps.srv = &http.Server{Handler: s.handler(name, ps), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := ps.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("Stopped serving health check node port", "service", name, "port", port, "err", err)
		}
	}()
	return ps, nil
}

// response is kube-proxy's body, field for field.
type response struct {
	Service struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"service"`
	LocalEndpoints      int  `json:"localEndpoints"`
	ServiceProxyHealthy bool `json:"serviceProxyHealthy"`
}

func (s *Server) handler(name types.NamespacedName, ps *portServer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		ps.mu.Lock()
		local := ps.local
		ps.mu.Unlock()
		healthy := s.cfg.Healthy == nil || s.cfg.Healthy()
		var body response
		body.Service.Namespace, body.Service.Name = name.Namespace, name.Name
		body.LocalEndpoints, body.ServiceProxyHealthy = local, healthy
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(local))
		if local > 0 && healthy {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
}
