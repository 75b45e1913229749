package cri

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remote "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"
)

// Labels kubelet puts on sandboxes and containers, which other CRI tools
// (crictl) show, plus svcnet's own marking the node agent that owns them.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	LabelNode          = "svcnet.io/node-name"
)

// DefaultEndpoint is kubelet's default --container-runtime-endpoint.
const DefaultEndpoint = "unix:///run/containerd/containerd.sock"

// Defaults of Config, as kubelet's container restart back-off.
const (
	DefaultInitialBackoff = 10 * time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	// backoffReset is how long a container must run for its back-off to
	// start over.
	backoffReset = 10 * time.Minute
	// pollInterval is how often a running container's status is read.
	pollInterval = 250 * time.Millisecond
	// rpcTimeout bounds one runtime call that has no longer natural bound.
	rpcTimeout = 2 * time.Minute
)

// Config configures a Runtime.
type Config struct {
	// Endpoint is the runtime's CRI socket (DefaultEndpoint if empty).
	Endpoint string
	// NodeName labels the sandboxes this agent makes.
	NodeName string
	// InitialBackoff and MaxBackoff bound restart and image pull back-off.
	InitialBackoff, MaxBackoff time.Duration
	Logger                     *slog.Logger
}

// Runtime is a connection to a CRI runtime.
type Runtime struct {
	cfg Config
	log *slog.Logger
	rs  internalapi.RuntimeService
	is  internalapi.ImageManagerService
	// Name and Version of the runtime, as it reports them.
	Name, Version string

	// pulls serialises pulls of one image, so pods starting together
	// share one download.
	pullMu sync.Mutex
	pulls  map[string]*sync.Mutex
}

// New connects to the runtime at cfg.Endpoint and checks that it speaks
// CRI v1.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rs, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(cfg.Endpoint).
		WithConnectionTimeout(10 * time.Second).Build(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to container runtime %s: %w", cfg.Endpoint, err)
	}
	is, err := remote.NewRemoteImageServiceBuilder().WithEndpoint(cfg.Endpoint).
		WithConnectionTimeout(10 * time.Second).Build(ctx)
	if err != nil {
		_ = rs.Close(ctx)
		return nil, fmt.Errorf("connecting to image service %s: %w", cfg.Endpoint, err)
	}
	v, err := rs.Version(ctx, "v1")
	if err != nil {
		_ = rs.Close(ctx)
		_ = is.Close(ctx)
		return nil, fmt.Errorf("container runtime %s: %w", cfg.Endpoint, err)
	}
	return &Runtime{cfg: cfg, log: cfg.Logger, rs: rs, is: is, Name: v.RuntimeName, Version: v.RuntimeVersion,
		pulls: map[string]*sync.Mutex{}}, nil
}

// quiet keeps the CRI client from logging the failures it returns (each
// one an error line, repeated on every retry): the agent reports them where
// they matter, as events and container states.
func quiet(ctx context.Context) context.Context {
	return klog.NewContext(ctx, logr.Discard())
}

// Close ends the connection; the runtime's containers keep running.
func (r *Runtime) Close() error {
	ctx := context.Background()
	return errors.Join(r.rs.Close(ctx), r.is.Close(ctx))
}

// Sandbox is a pod's running sandbox.
type Sandbox struct {
	ID     string
	IP     netip.Addr
	Config *runtimeapi.PodSandboxConfig
	// Adopted is true when the sandbox was found running, made by an
	// earlier agent.
	Adopted bool
}

// RunSandbox returns the pod's ready sandbox, making one if it has none:
// one made by an earlier agent for the same pod UID is adopted (its
// containers then too, by StartContainer). cfg's attempt is set past
// those of the pod's earlier sandboxes.
func (r *Runtime) RunSandbox(ctx context.Context, cfg *runtimeapi.PodSandboxConfig) (Sandbox, error) {
	ctx = quiet(ctx)
	cfg.Labels[LabelNode] = r.cfg.NodeName
	old, err := r.rs.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{LabelPodUID: cfg.Metadata.Uid}})
	if err != nil {
		return Sandbox{}, fmt.Errorf("listing sandboxes: %w", err)
	}
	slices.SortFunc(old, func(a, b *runtimeapi.PodSandbox) int { return cmp.Compare(b.CreatedAt, a.CreatedAt) })
	for _, s := range old {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			cfg.Metadata.Attempt = s.Metadata.Attempt
			sb := Sandbox{ID: s.Id, Config: cfg, Adopted: true}
			sb.IP, err = r.sandboxIP(ctx, s.Id)
			return sb, err
		}
		cfg.Metadata.Attempt = max(cfg.Metadata.Attempt, s.Metadata.Attempt+1)
	}
	for _, s := range old {
		// A sandbox that is not ready any more (its network or pause
		// process gone) is replaced, as kubelet does.
		_ = r.removeSandbox(ctx, s.Id)
	}
	id, err := r.rs.RunPodSandbox(ctx, cfg, "")
	if err != nil {
		return Sandbox{}, fmt.Errorf("creating pod sandbox: %w", err)
	}
	sb := Sandbox{ID: id, Config: cfg}
	sb.IP, err = r.sandboxIP(ctx, id)
	return sb, err
}

func (r *Runtime) sandboxIP(ctx context.Context, id string) (netip.Addr, error) {
	st, err := r.rs.PodSandboxStatus(ctx, id, false)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("reading sandbox status: %w", err)
	}
	if st.Status.GetNetwork().GetIp() == "" {
		// A sandbox in the node's network namespace has none.
		return netip.Addr{}, nil
	}
	ip, err := netip.ParseAddr(st.Status.Network.Ip)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("sandbox IP %q: %w", st.Status.Network.Ip, err)
	}
	return ip, nil
}

// RemovePod stops and removes every sandbox (and so every container) of
// the pod with the given UID.
func (r *Runtime) RemovePod(ctx context.Context, uid string) error {
	ctx = quiet(ctx)
	sbs, err := r.rs.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{LabelPodUID: uid}})
	if err != nil {
		return fmt.Errorf("listing sandboxes: %w", err)
	}
	var errs []error
	for _, s := range sbs {
		errs = append(errs, r.removeSandbox(ctx, s.Id))
	}
	return errors.Join(errs...)
}

func (r *Runtime) removeSandbox(ctx context.Context, id string) error {
	if err := r.rs.StopPodSandbox(ctx, id); err != nil {
		return fmt.Errorf("stopping sandbox %s: %w", id, err)
	}
	if err := r.rs.RemovePodSandbox(ctx, id); err != nil {
		return fmt.Errorf("removing sandbox %s: %w", id, err)
	}
	return nil
}

// PodUIDs lists the UIDs of the pods this node's agent has sandboxes for.
func (r *Runtime) PodUIDs(ctx context.Context) ([]string, error) {
	ctx = quiet(ctx)
	sbs, err := r.rs.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{LabelNode: r.cfg.NodeName}})
	if err != nil {
		return nil, fmt.Errorf("listing sandboxes: %w", err)
	}
	var uids []string
	for _, s := range sbs {
		if uid := s.Labels[LabelPodUID]; uid != "" && !slices.Contains(uids, uid) {
			uids = append(uids, uid)
		}
	}
	return uids, nil
}
