package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Defaults of Config.
const (
	// DefaultCompactionRetention matches kube-apiserver, which compacts
	// etcd every five minutes.
	DefaultCompactionRetention = 5 * time.Minute
	// DefaultProgressNotifyInterval is how often etcd tells idle watchers
	// its current revision; watch bookmarks are built from it.
	DefaultProgressNotifyInterval = 5 * time.Second
	// DefaultStartTimeout bounds how long Run waits for the member to
	// elect itself leader and serve clients.
	DefaultStartTimeout = time.Minute
	// dialTimeout bounds connecting to an etcd endpoint.
	dialTimeout = 5 * time.Second
)

// defaultName is the member name when Config.Name is empty.
const defaultName = "svcnet"

// Sockets of a single member, in its data directory.
const (
	clientSocket = "client.sock"
	peerSocket   = "peer.sock"
	// maxSocketPath is the longest path a unix socket can have on Linux
	// (sun_path holds 108 bytes with the terminating NUL).
	maxSocketPath = 107
)

// Config configures an embedded etcd member.
type Config struct {
	// DataDir holds the member's WAL and database. Required. Reopening the
	// same directory keeps the data.
	DataDir string
	// Name is the member name; "svcnet" when empty.
	Name string
	// Logger receives etcd's own logs: errors only, unless it has debug
	// enabled. slog.Default() when nil.
	Logger *slog.Logger
	// CompactionRetention is the periodic auto-compaction retention:
	// revisions older than this are compacted away (watches and lists
	// from them get 410 Gone). DefaultCompactionRetention when zero;
	// negative disables auto-compaction.
	CompactionRetention time.Duration
	// ProgressNotifyInterval is etcd's watch progress notification period;
	// DefaultProgressNotifyInterval when zero.
	ProgressNotifyInterval time.Duration
	// QuotaBackendBytes is the database size limit; etcd's default (2 GiB)
	// when zero.
	QuotaBackendBytes int64
	// StartTimeout bounds the start-up; DefaultStartTimeout when zero.
	StartTimeout time.Duration

	// The fields below make the member one of a multi-member cluster
	// (etcd's flags of the same names). All empty: a single member that
	// serves only on unix sockets in DataDir (client.sock, peer.sock),
	// which only DataDir's owner can open.

	// ListenClientURLs and AdvertiseClientURLs: where clients connect
	// (advertised = listened when empty).
	ListenClientURLs, AdvertiseClientURLs []string
	// ListenPeerURLs and AdvertisePeerURLs: where the other members
	// connect (advertised = listened when empty).
	ListenPeerURLs, AdvertisePeerURLs []string
	// InitialCluster is "name=peerURL,..." of every member at bootstrap.
	InitialCluster string
	// InitialClusterState is "new" (default) or "existing" (joining a
	// running cluster the member was added to).
	InitialClusterState string
	// InitialClusterToken distinguishes clusters bootstrapped from the same
	// member list; etcd's default when empty.
	InitialClusterToken string
	// ClientTLS and PeerTLS serve https client and peer URLs (etcd's
	// --cert-file, --key-file, --trusted-ca-file, --client-cert-auth and
	// their --peer-* twins).
	ClientTLS, PeerTLS TLSFiles
}

// Etcd is an embedded etcd member (by default a single one on private unix
// sockets in its data directory).
type Etcd struct {
	cfg    Config
	logger *slog.Logger

	ready chan struct{} // closed once client and endpoints are set
	done  chan struct{} // closed when Run returns

	mu        sync.Mutex
	client    *clientv3.Client
	endpoints []string
	err       error // why Run ended
	running   bool
}

// New validates cfg and returns an Etcd that starts when Run is called.
func New(cfg Config) (*Etcd, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("etcd: DataDir is required")
	}
	if cfg.Name == "" {
		cfg.Name = defaultName
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CompactionRetention == 0 {
		cfg.CompactionRetention = DefaultCompactionRetention
	}
	if cfg.ProgressNotifyInterval <= 0 {
		cfg.ProgressNotifyInterval = DefaultProgressNotifyInterval
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	return &Etcd{
		cfg:    cfg,
		logger: cfg.Logger.With("component", "etcd"),
		ready:  make(chan struct{}),
		done:   make(chan struct{}),
	}, nil
}

// Run starts the member, serves until ctx is done, then closes the shared
// client and stops the member cleanly. It returns nil after a clean stop
// caused by ctx. Run may be called only once.
func (e *Etcd) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return errors.New("etcd: Run called twice")
	}
	e.running = true
	e.mu.Unlock()

	err := e.run(ctx)
	e.mu.Lock()
	e.err = err
	if e.err == nil {
		e.err = errors.New("etcd: stopped")
	}
	e.mu.Unlock()
	close(e.done)
	return err
}

func (e *Etcd) run(ctx context.Context) error {
	ecfg, err := e.embedConfig()
	if err != nil {
		return err
	}
	start := time.Now()
	srv, err := embed.StartEtcd(ecfg)
	if err != nil {
		return fmt.Errorf("starting etcd in %s: %w", e.cfg.DataDir, err)
	}
	defer srv.Close()

	timer := time.NewTimer(e.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		return fmt.Errorf("starting etcd: %w", err)
	case <-timer.C:
		return fmt.Errorf("etcd not ready after %s", e.cfg.StartTimeout)
	case <-ctx.Done():
		return nil
	}

	endpoints := make([]string, 0, len(srv.Clients))
	for _, l := range srv.Clients {
		switch a := l.Addr().(type) {
		case *net.UnixAddr:
			endpoints = append(endpoints, "unix://"+a.Name)
		default:
			scheme := "http"
			if e.cfg.ClientTLS.CertFile != "" {
				scheme = "https"
			}
			endpoints = append(endpoints, scheme+"://"+a.String())
		}
	}
	// The member's own client presents the member's certificate (etcd
	// uses one certificate for both ends, as kubeadm issues it).
	clientTLS, err := TLSFiles{CAFile: e.cfg.ClientTLS.CAFile, CertFile: e.cfg.ClientTLS.CertFile,
		KeyFile: e.cfg.ClientTLS.KeyFile}.ClientTLS()
	if err != nil {
		return err
	}
	client, err := newClient(endpoints, clientTLS)
	if err != nil {
		return err
	}
	defer client.Close()
	// Reclaim the space of compacted revisions at every start, as k3s
	// does: the database file only grows otherwise.
	if len(endpoints) > 0 {
		dctx, dcancel := context.WithTimeout(ctx, e.cfg.StartTimeout)
		dstart := time.Now()
		_, err := client.Defragment(dctx, endpoints[0])
		dcancel()
		if err != nil {
			e.logger.Warn("Skipped defragmenting etcd", "err", err)
		} else {
			e.logger.Info("Defragmented etcd", "duration", time.Since(dstart))
		}
	}
	e.mu.Lock()
	e.client, e.endpoints = client, endpoints
	e.mu.Unlock()
	close(e.ready)
	e.logger.Info("Started embedded etcd", "dataDir", e.cfg.DataDir, "endpoints", endpoints,
		"duration", time.Since(start))

	select {
	case <-ctx.Done():
		e.logger.Info("Stopping embedded etcd", "dataDir", e.cfg.DataDir)
		return nil
	case err, ok := <-srv.Err():
		if !ok {
			return errors.New("etcd: server stopped")
		}
		return fmt.Errorf("etcd: %w", err)
	}
}

// embedConfig builds the embedded server configuration.
func (e *Etcd) embedConfig() (*embed.Config, error) {
	ecfg := embed.NewConfig()
	ecfg.Name = e.cfg.Name
	ecfg.Dir = e.cfg.DataDir
	// A single member listens on unix sockets in its data directory,
	// which etcd keeps private to its owner (0700): etcd holds the
	// cluster's Secrets and CA key, and a loopback TCP port would let any
	// local user read them. A single member never dials its own peer URL.
	dir, err := filepath.Abs(e.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd data dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd data dir: %w", err)
	}
	clientSock, peerSock := filepath.Join(dir, clientSocket), filepath.Join(dir, peerSocket)
	if len(clientSock) > maxSocketPath || len(peerSock) > maxSocketPath {
		return nil, fmt.Errorf("etcd data dir %s: path too long for its sockets (at most %d bytes)", dir, maxSocketPath-len(peerSocket)-1)
	}
	for _, sock := range []string{clientSock, peerSock} {
		// A socket left by a killed member would make the bind fail.
		if err := os.Remove(sock); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("etcd: %w", err)
		}
	}
	private := func(path string) []url.URL { return []url.URL{{Scheme: "unix", Path: path}} }
	if ecfg.ListenClientUrls, err = parseURLs(e.cfg.ListenClientURLs, private(clientSock)); err != nil {
		return nil, fmt.Errorf("etcd --listen-client-urls: %w", err)
	}
	// Advertised URLs default to the listened ones.
	if ecfg.AdvertiseClientUrls, err = parseURLs(e.cfg.AdvertiseClientURLs, ecfg.ListenClientUrls); err != nil {
		return nil, fmt.Errorf("etcd --advertise-client-urls: %w", err)
	}
	if ecfg.ListenPeerUrls, err = parseURLs(e.cfg.ListenPeerURLs, private(peerSock)); err != nil {
		return nil, fmt.Errorf("etcd --listen-peer-urls: %w", err)
	}
	if ecfg.AdvertisePeerUrls, err = parseURLs(e.cfg.AdvertisePeerURLs, ecfg.ListenPeerUrls); err != nil {
		return nil, fmt.Errorf("etcd --initial-advertise-peer-urls: %w", err)
	}
	ecfg.InitialCluster = e.cfg.InitialCluster
	if ecfg.InitialCluster == "" {
		ecfg.InitialCluster = ecfg.InitialClusterFromName(ecfg.Name)
	}
	if e.cfg.InitialClusterState != "" {
		ecfg.ClusterState = e.cfg.InitialClusterState
	}
	if e.cfg.InitialClusterToken != "" {
		ecfg.InitialClusterToken = e.cfg.InitialClusterToken
	}
	for _, t := range []struct {
		name  string
		files TLSFiles
		info  *transport.TLSInfo
		urls  []url.URL
	}{
		{"client", e.cfg.ClientTLS, &ecfg.ClientTLSInfo, ecfg.ListenClientUrls},
		{"peer", e.cfg.PeerTLS, &ecfg.PeerTLSInfo, ecfg.ListenPeerUrls},
	} {
		if err := t.files.check(); err != nil {
			return nil, fmt.Errorf("etcd %s TLS: %w", t.name, err)
		}
		for _, u := range t.urls {
			if (u.Scheme == "https") != (t.files.CertFile != "") {
				return nil, fmt.Errorf("etcd %s URL %s: https needs a certificate and key, and a certificate needs https", t.name, u.String())
			}
		}
		*t.info = t.files.tlsInfo()
	}
	ecfg.EnableGRPCGateway = false
	ecfg.AutoCompactionMode = embed.CompactorModePeriodic
	ecfg.AutoCompactionRetention = "0"
	if e.cfg.CompactionRetention > 0 {
		ecfg.AutoCompactionRetention = e.cfg.CompactionRetention.String()
	}
	ecfg.WatchProgressNotifyInterval = e.cfg.ProgressNotifyInterval
	if e.cfg.QuotaBackendBytes > 0 {
		ecfg.QuotaBackendBytes = e.cfg.QuotaBackendBytes
	}
	ecfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(newZapLogger(e.logger.Handler()))
	if err := ecfg.Validate(); err != nil {
		return nil, fmt.Errorf("etcd config: %w", err)
	}
	return ecfg, nil
}

// parseURLs parses in, or returns fallback when in is empty.
func parseURLs(in []string, fallback []url.URL) ([]url.URL, error) {
	if len(in) == 0 {
		return fallback, nil
	}
	out := make([]url.URL, 0, len(in))
	for _, s := range in {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%q: want http(s)://host:port", s)
		}
		out = append(out, *u)
	}
	return out, nil
}

// Ready is closed once the member serves clients.
func (e *Etcd) Ready() <-chan struct{} { return e.ready }

// Endpoints returns the client URLs of the running member (nil before
// Ready is closed).
func (e *Etcd) Endpoints() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.endpoints...)
}

// Client waits until the member is ready and returns a client shared by
// every caller. Callers must not close it: Run closes it when it returns.
// It fails when ctx ends first or Run stopped before becoming ready.
func (e *Etcd) Client(ctx context.Context) (*clientv3.Client, error) {
	select {
	case <-e.ready:
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.client, nil
	case <-e.done:
		e.mu.Lock()
		defer e.mu.Unlock()
		return nil, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for etcd: %w", ctx.Err())
	}
}

// Done is closed when Run has returned.
func (e *Etcd) Done() <-chan struct{} { return e.done }

// Dial connects to external etcd endpoints (the --etcd-servers flag), over
// tlsCfg when not nil (https endpoints), and checks, within ctx, that the
// cluster answers a read. The caller closes the client.
func Dial(ctx context.Context, endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	client, err := newClient(endpoints, tlsCfg)
	if err != nil {
		return nil, err
	}
	if _, err := client.Get(ctx, "/", clientv3.WithCountOnly(), clientv3.WithLimit(1)); err != nil {
		client.Close()
		return nil, fmt.Errorf("reaching etcd at %v: %w", endpoints, err)
	}
	return client, nil
}

func newClient(endpoints []string, tlsCfg *tls.Config) (*clientv3.Client, error) {
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tlsCfg,
		DialTimeout: dialTimeout,
		Logger:      zap.NewNop(),
		// Large lists: kube-apiserver allows up to 2 GiB responses.
		MaxCallRecvMsgSize: 1<<31 - 1,
	})
	if err != nil {
		return nil, fmt.Errorf("creating etcd client for %v: %w", endpoints, err)
	}
	return client, nil
}
