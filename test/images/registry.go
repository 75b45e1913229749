package testimages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Registry is an in-memory OCI registry served over plain HTTP, for a
// container runtime to pull test images from.
type Registry struct {
	addr    string
	handler http.Handler
	srv     *http.Server
	done    chan struct{}
}

// Serve starts a registry listening on addr ("127.0.0.1:0" picks a port)
// and pushes imgs to it, each under its reference's repository path without
// the registry host: "registry.k8s.io/pause:3.10" becomes
// "<addr>/pause:3.10" and "docker.io/library/nginx:latest"
// "<addr>/library/nginx:latest", the paths a containerd mirror of those
// registries requests. ctx bounds the pushes; the registry runs until Close.
// Its request log goes to the default slog logger at debug level.
func Serve(ctx context.Context, addr string, imgs map[string]v1.Image) (*Registry, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("registry listen: %w", err)
	}
	return ServeListener(ctx, ln, imgs)
}

// ServeListener is Serve on ln, which may belong to another network
// namespace than the caller's: images are pushed to the registry in
// memory, not through ln.
func ServeListener(ctx context.Context, ln net.Listener, imgs map[string]v1.Image) (*Registry, error) {
	logger := slog.NewLogLogger(slog.Default().Handler(), slog.LevelDebug)
	h := registry.New(registry.Logger(logger))
	r := &Registry{
		addr:    ln.Addr().String(),
		handler: h,
		srv: &http.Server{
			Handler:           h,
			ErrorLog:          logger,
			ReadHeaderTimeout: 10 * time.Second,
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(r.done)
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Debug("Registry stopped", "err", err)
		}
	}()
	refs := make([]string, 0, len(imgs))
	for ref := range imgs {
		refs = append(refs, ref)
	}
	sort.Strings(refs)
	for _, ref := range refs {
		if err := r.Push(ctx, ref, imgs[ref]); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// Addr is the registry's host:port.
func (r *Registry) Addr() string { return r.addr }

// Push adds img under ref's repository path and tag (see Serve).
func (r *Registry) Push(ctx context.Context, ref string, img v1.Image) error {
	return push(ctx, r.addr, ref, img, inMemory{r.handler})
}

// inMemory is a transport handing requests straight to a handler.
type inMemory struct{ h http.Handler }

func (t inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	// A server's request always has a body; a client's may have none.
	sreq := req.Clone(req.Context())
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	sreq.RequestURI = req.URL.RequestURI()
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sreq)
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Close stops the registry and waits for it; its images are gone.
func (r *Registry) Close() error {
	err := r.srv.Close()
	<-r.done
	return err
}

// PushImage pushes img over plain HTTP to the registry at addr, under ref's
// repository path and tag (or digest) without ref's registry host.
func PushImage(ctx context.Context, addr, ref string, img v1.Image) error {
	// No proxy: the registry is local, whatever HTTP_PROXY says.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	defer tr.CloseIdleConnections()
	return push(ctx, addr, ref, img, tr)
}

func push(ctx context.Context, addr, ref string, img v1.Image, tr http.RoundTripper) error {
	dst, err := MirrorReference(addr, ref)
	if err != nil {
		return err
	}
	target, err := name.ParseReference(dst, name.Insecure, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	if err := remote.Write(target, img, remote.WithContext(ctx), remote.WithTransport(tr)); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}

// MirrorReference is ref as served by a mirror at addr: the same
// repository path and tag or digest with addr as host.
// ("docker.io/library/busybox:latest", "busybox" →
// "<addr>/library/busybox:latest").
func MirrorReference(addr, ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	sep := ":"
	if _, ok := r.(name.Digest); ok {
		sep = "@"
	}
	return addr + "/" + r.Context().RepositoryStr() + sep + r.Identifier(), nil
}
