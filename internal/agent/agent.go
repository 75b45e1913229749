package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/dnsconfig"
	"github.com/svcnet/svcnet/internal/agent/podnet"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// Constants of the node's registration.
const (
	KubeletVersion    = "v1.33.0-svcnet"
	NodeLeaseNS       = "kube-node-lease"
	leaseDuration     = 40 // seconds, as kubelet
	heartbeatInterval = 10 * time.Second
	maxPods           = "110"
)

// Config configures an Agent.
type Config struct {
	Client kubernetes.Interface
	// Informers provides Services and Nodes; nil makes a private factory.
	// The agent starts it too (starting twice is harmless).
	Informers informers.SharedInformerFactory
	NodeName  string
	NodeIP    string
	DataDir   string
	// ClusterDNS is the cluster DNS server IP; empty gives pods the host's
	// resolver configuration.
	ClusterDNS    string
	ClusterDomain string
	// PodCIDR is used when the node gets no spec.podCIDR within
	// PodCIDRWait (default 5s).
	PodCIDR     string
	PodCIDRWait time.Duration
	// ClusterCIDR is the cluster's pod network: pod traffic leaving it is
	// masqueraded to the node's address ("" disables that).
	ClusterCIDR string
	// NetnsDir and BridgeName default to podnet's defaults.
	NetnsDir   string
	BridgeName string
	// HostResolvConf defaults to /etc/resolv.conf.
	HostResolvConf string
	// SelfArgv runs the svcnet binary (for built-in images); default: this
	// executable. The runtime's helper uses HelperPath (default the same).
	SelfArgv   []string
	HelperPath string
	// InitialBackoff is the first container restart delay (default 10s).
	InitialBackoff time.Duration
	// KeepPodsOnExit leaves the pods' processes running when Run returns,
	// as containers outlive a kubelet restart; the next agent re-adopts
	// them. Otherwise they are killed then, their records noting how
	// their runs ended, and the next agent applies the restart policy to
	// those ends (restarting them unless Never). A crashed agent always
	// leaves them running.
	KeepPodsOnExit bool
	// Runtime selects and configures the container runtime.
	Runtime RuntimeOptions
	// KubeletPort is published as status.daemonEndpoints.kubeletEndpoint
	// of the Node: where the agent's kubelet API server listens (0: none).
	KubeletPort int32
	Logger      *slog.Logger
}

// Agent runs the pods of one node.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	services corelisters.ServiceLister
	nodes    cache.SharedIndexInformer
	podInf   informers.SharedInformerFactory

	net *podnet.Manager
	rt  *runtime.Runtime
	// cri is the container runtime pods run in (nil: the process runtime).
	cri *cri.Runtime
	dns dnsconfig.Config

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	wg      sync.WaitGroup
}

// New checks cfg and registers the informers the agent needs.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.NodeName == "" || cfg.DataDir == "" {
		return nil, errors.New("agent: Client, NodeName and DataDir are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.PodCIDRWait <= 0 {
		cfg.PodCIDRWait = 5 * time.Second
	}
	if cfg.HostResolvConf == "" {
		cfg.HostResolvConf = "/etc/resolv.conf"
	}
	if cfg.SelfArgv == nil {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding own executable: %w", err)
		}
		cfg.SelfArgv = []string{self}
	}
	if cfg.Informers == nil {
		cfg.Informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	}
	a := &Agent{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeName), workers: map[types.UID]*podWorker{}}
	a.services = cfg.Informers.Core().V1().Services().Lister()
	a.nodes = cfg.Informers.Core().V1().Nodes().Informer()
	a.podInf = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", cfg.NodeName).String()
		}))
	a.podInf.Core().V1().Pods().Informer()
	return a, nil
}

// Run registers the node and runs its pods until ctx ends; the pods'
// processes end with it unless KeepPodsOnExit. Pods left running by an
// earlier agent are re-adopted.
func (a *Agent) Run(ctx context.Context) error {
	// Connected first, so the Node registers with its runtime's version.
	if err := a.connectRuntime(ctx); err != nil {
		return err
	}
	defer func() {
		if a.cri != nil {
			_ = a.cri.Close()
		}
	}()
	if err := a.registerNode(ctx); err != nil {
		return err
	}
	cidr, err := a.waitPodCIDR(ctx)
	if err != nil {
		return err
	}
	a.log.Info("Registered node", "podCIDR", cidr)
	var clusterCIDR netip.Prefix
	if a.cfg.ClusterCIDR != "" {
		// The first range of a dual-stack list; podnet ignores IPv6.
		if clusterCIDR, err = netip.ParsePrefix(strings.Split(a.cfg.ClusterCIDR, ",")[0]); err != nil {
			return fmt.Errorf("cluster CIDR: %w", err)
		}
	}
	a.net, err = podnet.New(podnet.Config{PodCIDR: cidr, DataDir: a.cfg.DataDir, NetnsDir: a.cfg.NetnsDir,
		BridgeName: a.cfg.BridgeName, ClusterCIDR: clusterCIDR, Logger: a.log})
	if err != nil {
		return err
	}
	if err := a.net.EnsureBridge(); err != nil {
		return err
	}
	// The kubelet API lists it (/logs/) before the first pod has a log.
	if err := os.MkdirAll(a.LogDir(), 0o755); err != nil {
		return fmt.Errorf("creating log dir: %w", err)
	}
	if err := a.net.EnsureMasquerade(ctx); err != nil {
		// Pods still reach the cluster; only off-cluster egress suffers.
		a.log.Warn("Skipped pod egress masquerade", "err", err)
	}
	a.rt, err = runtime.New(runtime.Config{HelperPath: a.cfg.HelperPath, NewPIDNamespace: true,
		InitialBackoff: a.cfg.InitialBackoff, KeepOnExit: a.cfg.KeepPodsOnExit, Logger: a.log})
	if err != nil {
		return err
	}
	if err := a.writeCNIConfig(cidr); err != nil {
		return err
	}
	a.dns = dnsconfig.Config{ClusterDomain: a.cfg.ClusterDomain}
	if a.cfg.ClusterDNS != "" {
		a.dns.ClusterDNS = []string{a.cfg.ClusterDNS}
	}
	if f, err := os.Open(a.cfg.HostResolvConf); err == nil {
		a.dns.Host, _ = dnsconfig.ParseResolvConf(f)
		f.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rtDone := make(chan struct{})
	go func() { _ = a.rt.Run(ctx); close(rtDone) }()

	routes := make(chan struct{}, 1)
	kick := func(any) {
		select {
		case routes <- struct{}{}:
		default:
		}
	}
	if _, err := a.nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: kick,
		UpdateFunc: func(_, n any) { kick(n) }, DeleteFunc: kick}); err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	podInformer := a.podInf.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.podChanged(ctx, o) },
		UpdateFunc: func(_, o any) { a.podChanged(ctx, o) },
		DeleteFunc: func(o any) { a.podDeleted(o) },
	}); err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	a.cfg.Informers.Start(ctx.Done())
	a.podInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.nodes.HasSynced, podInformer.HasSynced,
		a.cfg.Informers.Core().V1().Services().Informer().HasSynced) {
		return ctx.Err()
	}
	a.cleanupLeftovers(podInformer.GetStore())
	if a.cri == nil {
		// Under a container runtime the CNI portmap plugin publishes them.
		a.syncHostPorts(ctx, podInformer.GetStore())
	}

	tick := time.NewTicker(heartbeatInterval)
	defer tick.Stop()
	a.heartbeat(ctx)
	for {
		select {
		case <-ctx.Done():
			a.podInf.Shutdown()
			a.wg.Wait()
			<-rtDone
			// Containers are killed and recorded (or left running, with
			// KeepPodsOnExit) before the agent is gone.
			a.rt.WaitContainers()
			return nil
		case <-tick.C:
			a.heartbeat(ctx)
		case <-routes:
			a.syncRoutes()
		}
	}
}

// pod returns obj as a pod bound to this node, or nil.
func (a *Agent) pod(obj any) *v1.Pod {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	p, ok := obj.(*v1.Pod)
	if !ok || p.Spec.NodeName != a.cfg.NodeName {
		return nil
	}
	return p
}

func (a *Agent) podChanged(ctx context.Context, obj any) {
	p := a.pod(obj)
	if p == nil || ctx.Err() != nil {
		// Events still delivered while the agent stops start nothing.
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w, ok := a.workers[p.UID]
	if !ok {
		w = newPodWorker(a, p)
		a.workers[p.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run(ctx)
			a.mu.Lock()
			delete(a.workers, p.UID)
			a.mu.Unlock()
		}()
	}
	w.update(p, false)
}

func (a *Agent) podDeleted(obj any) {
	p := a.pod(obj)
	if p == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w, ok := a.workers[p.UID]; ok {
		w.update(p, true)
	}
}

// cleanupLeftovers removes what pods that no longer exist left behind while
// no agent ran: their processes, directories, logs and networks. Pods that
// still exist are resumed by their workers (see podWorker.start).
func (a *Agent) cleanupLeftovers(store cache.Store) {
	live, liveNames := map[string]bool{}, map[string]bool{}
	for _, o := range store.List() {
		if p := a.pod(o); p != nil {
			live[string(p.UID)] = true
			liveNames[p.Namespace+"/"+p.Name] = true
		}
	}
	uids, err := a.net.Pods()
	if a.cri != nil {
		uids, err = a.cri.PodUIDs(context.Background())
	}
	if err != nil {
		a.log.Warn("Failed listing leftover pods", "err", err)
		return
	}
	if entries, err := os.ReadDir(a.podsDir()); err == nil {
		for _, e := range entries {
			uids = append(uids, e.Name())
		}
	}
	done := map[string]bool{}
	for _, uid := range uids {
		if live[uid] || done[uid] {
			continue
		}
		done[uid] = true
		if err := a.removePodState(uid, liveNames); err != nil {
			a.log.Warn("Failed removing leftover pod", "podUID", uid, "err", err)
			continue
		}
		teardown := a.net.TeardownPod
		if a.cri != nil {
			teardown = func(uid string) error { return a.cri.RemovePod(context.Background(), uid) }
		}
		if err := teardown(uid); err != nil {
			a.log.Warn("Failed removing leftover pod network", "podUID", uid, "err", err)
			continue
		}
		a.log.Info("Removed leftover pod", "podUID", uid)
	}
}

func (a *Agent) syncRoutes() {
	var want []podnet.NodeRoute
	for _, o := range a.nodes.GetStore().List() {
		n := o.(*v1.Node)
		if n.Name == a.cfg.NodeName || n.Spec.PodCIDR == "" {
			continue
		}
		cidr, err := netip.ParsePrefix(n.Spec.PodCIDR)
		if err != nil {
			continue
		}
		for _, addr := range n.Status.Addresses {
			if addr.Type != v1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(addr.Address); err == nil && ip.Is4() == cidr.Addr().Is4() {
				want = append(want, podnet.NodeRoute{PodCIDR: cidr, Via: ip})
				break
			}
		}
	}
	if err := a.net.SyncRoutes(want); err != nil {
		a.log.Warn("Failed syncing node routes", "err", err)
	}
}

func (a *Agent) nodeStatus(now metav1.Time, old []v1.NodeCondition) v1.NodeStatus {
	addrs := []v1.NodeAddress{}
	if a.cfg.NodeIP != "" {
		addrs = append(addrs, v1.NodeAddress{Type: v1.NodeInternalIP, Address: a.cfg.NodeIP})
	}
	// As kubelet's --hostname-override: the Node's name is its hostname.
	addrs = append(addrs, v1.NodeAddress{Type: v1.NodeHostName, Address: a.cfg.NodeName})
	res := v1.ResourceList{
		v1.ResourcePods:   resource.MustParse(maxPods),
		v1.ResourceCPU:    *resource.NewQuantity(int64(goruntimeNumCPU()), resource.DecimalSI),
		v1.ResourceMemory: resource.MustParse("8Gi"),
	}
	ready := v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
		Message: "svcnet agent is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}
	for _, c := range old {
		if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
			ready.LastTransitionTime = c.LastTransitionTime
		}
	}
	return v1.NodeStatus{
		Capacity: res, Allocatable: res,
		Conditions:      []v1.NodeCondition{ready},
		Addresses:       addrs,
		DaemonEndpoints: v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: a.cfg.KubeletPort}},
		NodeInfo: v1.NodeSystemInfo{KubeletVersion: KubeletVersion, KubeProxyVersion: KubeletVersion,
			OperatingSystem: "linux", Architecture: goarch(), ContainerRuntimeVersion: a.runtimeVersion()},
	}
}

// runtimeVersion is the node's containerRuntimeVersion, as kubelet reports
// it: <runtime>://<version>.
func (a *Agent) runtimeVersion() string {
	if a.cri != nil {
		return a.cri.Name + "://" + a.cri.Version
	}
	return "svcnet://" + KubeletVersion
}

// registerNode creates the Node or refreshes its status.
func (a *Agent) registerNode(ctx context.Context) error {
	nodes := a.cfg.Client.CoreV1().Nodes()
	now := metav1.Now()
	n, err := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		n = &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Labels: map[string]string{
			"kubernetes.io/hostname": a.cfg.NodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": goarch()}}}
		n.Status = a.nodeStatus(now, nil)
		if n, err = nodes.Create(ctx, n, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating node: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("getting node: %w", err)
	}
	// Controllers write the Node too (node IPAM sets spec.podCIDR right
	// after it appears): re-read and retry on conflicts.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n.Status = a.nodeStatus(now, n.Status.Conditions)
		_, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if cur, getErr := nodes.Get(ctx, a.cfg.NodeName, metav1.GetOptions{}); getErr == nil {
				n = cur
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("updating node status: %w", err)
	}
	return nil
}

// waitPodCIDR polls the Node for spec.podCIDR, falling back to Config.PodCIDR.
func (a *Agent) waitPodCIDR(ctx context.Context) (netip.Prefix, error) {
	deadline := time.Now().Add(a.cfg.PodCIDRWait)
	for {
		n, err := a.cfg.Client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
		if err == nil && n.Spec.PodCIDR != "" {
			return netip.ParsePrefix(n.Spec.PodCIDR)
		}
		if time.Now().After(deadline) {
			if a.cfg.PodCIDR == "" {
				return netip.Prefix{}, errors.New("node got no spec.podCIDR and no fallback PodCIDR is configured")
			}
			return netip.ParsePrefix(a.cfg.PodCIDR)
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return netip.Prefix{}, ctx.Err()
		case <-t.C:
		}
	}
}

// heartbeat renews the node Lease and the Ready condition.
func (a *Agent) heartbeat(ctx context.Context) {
	if err := a.renewLease(ctx); err != nil {
		a.log.Warn("Failed renewing node lease", "err", err)
	}
	if err := a.registerNode(ctx); err != nil {
		a.log.Warn("Failed updating node status", "err", err)
	}
}

func (a *Agent) renewLease(ctx context.Context) error {
	leases := a.cfg.Client.CoordinationV1().Leases(NodeLeaseNS)
	now := metav1.NewMicroTime(time.Now())
	dur := int32(leaseDuration)
	l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: NodeLeaseNS},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: &a.cfg.NodeName, LeaseDurationSeconds: &dur, RenewTime: &now}}
		_, err = leases.Create(ctx, l, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.RenewTime = &a.cfg.NodeName, &dur, &now
	_, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	return err
}

// LogPath returns the file holding the current log of a container.
func (a *Agent) LogPath(ns, pod, container string) string {
	return filepath.Join(a.LogDir(), ns, pod, container+".log")
}

// LogDir is the directory of the node's pod logs, <ns>/<pod>/<container>.log,
// which the kubelet API lists under /logs/ as kubelet lists /var/log.
func (a *Agent) LogDir() string {
	return filepath.Join(a.cfg.DataDir, "logs")
}
