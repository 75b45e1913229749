package apiserver

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/version"

	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

// Config configures the API server.
type Config struct {
	// Address is host:port to listen on (e.g. "0.0.0.0:6443").
	Address string
	// Listener, when set, is used instead of listening on Address.
	Listener net.Listener
	TLS      *tls.Config

	Resources []registry.Resource
	Store     storage.Interface
	Codecs    *rest.Codecs
	// TypeConverter enables managedFields and server-side apply.
	TypeConverter managedfields.TypeConverter

	// Discovery serves /api and /apis; OpenAPI serves /openapi/.
	Discovery http.Handler
	OpenAPI   http.Handler
	// Authenticate wraps the whole handler chain; nil allows everything
	// (only for in-process tests).
	Authenticate func(http.Handler) http.Handler
	// Authorizer decides every authenticated request after impersonation
	// (nil: everything is allowed); paths in AlwaysAllowPaths are not
	// asked about.
	Authorizer       authz.Authorizer
	AlwaysAllowPaths []string
	// Admit is the admission chain of every write (nil: none).
	Admit registry.AdmitFunc
	// Extra non-resource handlers by exact path (e.g. /cacerts).
	Extra map[string]http.Handler
	// Ready reports whether /readyz should answer ok.
	Ready func() error
	// MaxRequestsInFlight and MaxMutatingRequestsInFlight bound the
	// read-only and mutating requests served at once, as kube-apiserver's
	// flags of those names (0: no limit); past them a request gets 429.
	MaxRequestsInFlight, MaxMutatingRequestsInFlight int
	// MaxWatchesPerUser bounds the watches one user holds open (0: no
	// limit); past it a watch gets 429.
	MaxWatchesPerUser int
	// ReadHeaderTimeout bounds how long a connection may take to send a
	// request's headers, and IdleTimeout how long a connection may stay
	// idle between requests (0: 30s and 90s, kube-apiserver's behaviour).
	ReadHeaderTimeout, IdleTimeout time.Duration

	Version version.Info
	Logger  *slog.Logger
}

// Server is the API server.
type Server struct {
	cfg      Config
	handlers map[schema.GroupVersionResource]*rest.Handler
	handler  http.Handler
	logger   *slog.Logger
}

// New builds the server and one handler per resource.
func New(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, handlers: map[schema.GroupVersionResource]*rest.Handler{}, logger: cfg.Logger}
	for _, res := range cfg.Resources {
		h, err := rest.New(rest.Config{
			Resource: res, Store: cfg.Store, Codecs: cfg.Codecs, TypeConverter: cfg.TypeConverter, Admit: cfg.Admit,
			Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		s.handlers[res.GroupVersionResource()] = h
	}
	// The order of kube-apiserver's chain: authentication, impersonation,
	// in-flight limits, authorization.
	var h http.Handler = http.HandlerFunc(s.route)
	h = withAuthorization(h, cfg.Authorizer, cfg.AlwaysAllowPaths, cfg.Codecs)
	h = withInFlightLimit(h, cfg.MaxRequestsInFlight, cfg.MaxMutatingRequestsInFlight, cfg.Codecs)
	h = withWatchLimit(h, cfg.MaxWatchesPerUser, cfg.Codecs)
	h = withImpersonation(h, cfg.Authorizer, cfg.Codecs)
	if cfg.Authenticate != nil {
		h = cfg.Authenticate(h)
	}
	s.handler = withPanicRecovery(h, cfg.Codecs, cfg.Logger)
	return s, nil
}

// Handler is the complete request chain (for in-process tests).
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves HTTPS until ctx is done, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Address); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	srv := &http.Server{
		Handler:   s.handler,
		TLSConfig: s.cfg.TLS,
		// A connection that sends nothing is closed after
		// ReadHeaderTimeout; connections idle between requests after
		// IdleTimeout, as kube-apiserver closes them (the keep-alive of
		// Go clients).
		ReadHeaderTimeout: cmp.Or(s.cfg.ReadHeaderTimeout, 30*time.Second),
		IdleTimeout:       cmp.Or(s.cfg.IdleTimeout, 90*time.Second),
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLS != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	s.logger.Info("Started API server", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close() // long-running watches do not end by themselves
	}
	return err
}

// route sends each request to its handler.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if h, ok := s.cfg.Extra[path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	switch {
	case path == "/healthz" || path == "/livez" || strings.HasPrefix(path, "/healthz/") || strings.HasPrefix(path, "/livez/"):
		writeText(w, http.StatusOK, "ok")
		return
	case path == "/readyz" || strings.HasPrefix(path, "/readyz/"):
		if s.cfg.Ready != nil {
			if err := s.cfg.Ready(); err != nil {
				writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
				return
			}
		}
		writeText(w, http.StatusOK, "ok")
		return
	case path == "/version":
		writeJSON(w, http.StatusOK, s.cfg.Version)
		return
	case strings.HasPrefix(path, "/openapi/"):
		if s.cfg.OpenAPI != nil {
			s.cfg.OpenAPI.ServeHTTP(w, r)
			return
		}
	}
	info := rest.ParseRequestInfo(r)
	if !info.IsResource {
		if s.cfg.Discovery != nil && (path == "/api" || path == "/apis" || strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/apis/")) {
			s.cfg.Discovery.ServeHTTP(w, r)
			return
		}
		rest.WriteStatus(s.cfg.Codecs, w, r, &apierrors.NewNotFound(schema.GroupResource{}, "").ErrStatus)
		return
	}
	h, ok := s.handlers[schema.GroupVersionResource{Group: info.Group, Version: info.Version, Resource: info.Resource}]
	if !ok {
		rest.WriteStatus(s.cfg.Codecs, w, r, &apierrors.NewNotFound(schema.GroupResource{Group: info.Group, Resource: info.Resource}, "").ErrStatus)
		return
	}
	h.ServeHTTP(w, r)
}

func writeText(w http.ResponseWriter, code int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(text))
}
