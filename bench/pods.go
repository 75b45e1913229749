package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	ctrdtest "github.com/svcnet/svcnet/test/containerd"
	"github.com/svcnet/svcnet/test/e2e/framework"
)

// podImage is what every pod of the pods figure runs, with podCommand: a
// container that idles, so its memory is the runtime's cost of a pod.
const podImage = "docker.io/library/busybox:latest"

func podCommand() []string { return []string{"sleep", "3600"} }

// podTimeout bounds the wait for one batch of pods to be Ready. A lone
// pod is Ready in well under a second on an idle machine; the first
// containerd pod also pulls two images from the node's loopback registry.
const podTimeout = 3 * time.Minute

// PodsConfig is what the pods figure measures.
type PodsConfig struct {
	Self string // this binary, re-executed inside the node's namespace
	// Runtimes are measured in order: "containerd" and "process".
	Runtimes []string
	Pods     int
	Batch    int
}

// PodsReport is the pods figure: the same pods on each container runtime,
// each runtime on a node of its own that runs alone while measured.
type PodsReport struct {
	Pods     int             `json:"pods"`
	Batch    int             `json:"batch"`
	Image    string          `json:"image"`
	Command  []string        `json:"command"`
	Runtimes []RuntimeResult `json:"runtimes"`
	// Ratio is containerd's figures over the process runtime's, when both
	// were measured.
	Ratio *PodsRatio `json:"ratioContainerdVsProcess,omitempty"`
}

// RuntimeResult is the pods figure of one container runtime.
type RuntimeResult struct {
	Runtime string `json:"runtime"`
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
	// Warmup is the one pod created before the measured ones, which pulls
	// the images on containerd; it exists in both memory samples.
	Warmup  *PodLatency `json:"warmup,omitempty"`
	Latency *PodLatency `json:"latency,omitempty"`
	Before  *NodeMemory `json:"memoryBefore,omitempty"`
	After   *NodeMemory `json:"memoryAfter,omitempty"`
	// RSSPerPodMB, PSSPerPodMB and AnonPerPodMB are (After - Before) / Pods.
	RSSPerPodMB  float64 `json:"rssPerPodMB,omitempty"`
	PSSPerPodMB  float64 `json:"pssPerPodMB,omitempty"`
	AnonPerPodMB float64 `json:"anonPerPodMB,omitempty"`
	// RSSPerPodByProcessMB splits RSSPerPodMB by process name.
	RSSPerPodByProcessMB map[string]float64 `json:"rssPerPodByProcessMB,omitempty"`
	LoadAvg              string             `json:"loadAvg,omitempty"`
}

// PodLatency is, per pod, from its create call's return to its Ready
// condition turning True on an informer opened before the first create.
type PodLatency struct {
	Pods      int       `json:"pods"`
	Batch     int       `json:"batch"`
	SamplesMs []float64 `json:"samplesMs"`
	P50Ms     float64   `json:"p50Ms"`
	P99Ms     float64   `json:"p99Ms"`
	MaxMs     float64   `json:"maxMs"`
	// AllReadySeconds is from the first create to the last pod Ready.
	AllReadySeconds float64 `json:"allReadySeconds"`
}

// NodeMemory is the memory of every process of a node: those in its
// network namespace (svcnet server; containerd and its shims), their
// descendants (pod processes, pause containers) and processes that hold a
// mount under the node's data dir (pods of the process runtime).
type NodeMemory struct {
	Processes int     `json:"processes"`
	RSSMB     float64 `json:"rssMB"`
	// PSSMB counts each shared page once, split among the processes
	// mapping it, where RSS counts it in every one.
	PSSMB float64 `json:"pssMB"`
	// AnonMB is the anonymous part of RSS (RssAnon): memory of the
	// process's own, where the rest of RSS is mostly its binary's and
	// libraries' pages, shared with every process of the same binary.
	AnonMB    float64        `json:"anonMB"`
	ByProcess []ProcessGroup `json:"byProcess"`
}

// ProcessGroup is the processes of one name (/proc/<pid>/comm).
type ProcessGroup struct {
	Name   string  `json:"name"`
	Count  int     `json:"count"`
	RSSMB  float64 `json:"rssMB"`
	PSSMB  float64 `json:"pssMB"`
	AnonMB float64 `json:"anonMB"`
}

// PodsRatio is containerd over the process runtime, figure by figure.
type PodsRatio struct {
	P50        float64 `json:"p50"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`
	RSSPerPod  float64 `json:"rssPerPod"`
	PSSPerPod  float64 `json:"pssPerPod"`
	AnonPerPod float64 `json:"anonPerPod"`
	FirstPod   float64 `json:"firstPod"`
}

// runPods measures every runtime of cfg in turn, each on a fresh node
// that is torn down before the next starts.
func runPods(cfg PodsConfig) (*PodsReport, error) {
	rep := &PodsReport{Pods: cfg.Pods, Batch: cfg.Batch, Image: podImage, Command: podCommand()}
	var firstErr error
	for _, rt := range cfg.Runtimes {
		rr, err := runRuntimeGuarded(cfg, rt)
		if err != nil {
			rr.Error = err.Error()
			if firstErr == nil {
				firstErr = fmt.Errorf("runtime %s: %w", rt, err)
			}
		}
		rr.LoadAvg = loadAvg()
		rep.Runtimes = append(rep.Runtimes, rr)
	}
	rep.Ratio = podsRatio(rep.Runtimes)
	return rep, firstErr
}

// runRuntimeGuarded runs one runtime on a node of its own and always tears
// the node down, also when the framework aborts with a fatal error.
func runRuntimeGuarded(cfg PodsConfig, rt string) (rr RuntimeResult, err error) {
	rr.Runtime = rt
	if rt == "containerd" {
		if aerr := ctrdtest.Available(); aerr != nil {
			rr.Skipped = "containerd cannot run here: " + aerr.Error()
			slog.Warn("Skipped runtime", "runtime", rt, "err", aerr)
			return rr, nil
		}
	}
	err = guarded(func(t *tb) error {
		err := runRuntime(cfg, t, &rr)
		if err != nil {
			// Marks the run failed so the framework prints the server's
			// (and containerd's) log.
			t.Errorf("runtime %s: %v", rt, err)
		}
		return err
	})
	return rr, err
}

func runRuntime(cfg PodsConfig, t *tb, rr *RuntimeResult) error {
	slog.Info("Starting node", "runtime", rr.Runtime)
	var n *framework.Node
	if rr.Runtime == "containerd" {
		imgs := framework.TestImages(t)
		n = framework.StartServerWithContainerd(t, nil, framework.NodeIP, imgs)
	} else {
		n = framework.StartServer(t, nil, framework.NodeIP, "--container-runtime=process")
	}
	h := helper{cfg: RunConfig{Self: cfg.Self}, netns: n.Netns}
	args := []string{"pods", "-kubeconfig", n.Kubeconfig(), "-node", n.Name()}
	defer func() {
		if t.Failed() {
			out, _ := n.Kubectl("get", "pods", "-o", "wide")
			t.Logf("pods:\n%s", out)
		}
	}()
	var warm PodLatency
	if err := h.runJSON(&warm, append(args, "-prefix", "warmup", "-count", "1")...); err != nil {
		return fmt.Errorf("warm-up pod: %w", err)
	}
	rr.Warmup = &warm
	slog.Info("Warm-up pod ready", "runtime", rr.Runtime, "ms", warm.MaxMs)
	before, err := settledMemory(n.Netns, n.DataDir, 1)
	if err != nil {
		return fmt.Errorf("memory before: %w", err)
	}
	rr.Before = before
	var lat PodLatency
	if err := h.runJSON(&lat, append(args, "-prefix", "pod", "-count", strconv.Itoa(cfg.Pods),
		"-batch", strconv.Itoa(cfg.Batch))...); err != nil {
		return fmt.Errorf("pods: %w", err)
	}
	after, err := settledMemory(n.Netns, n.DataDir, 1+cfg.Pods)
	if err != nil {
		return fmt.Errorf("memory after: %w", err)
	}
	// Latency is set last: the table shows a runtime's figures only with it.
	rr.Latency, rr.After = &lat, after
	per := func(a, b float64) float64 { return round1((a - b) / float64(cfg.Pods)) }
	rr.RSSPerPodMB, rr.PSSPerPodMB = per(after.RSSMB, before.RSSMB), per(after.PSSMB, before.PSSMB)
	rr.AnonPerPodMB = per(after.AnonMB, before.AnonMB)
	rr.RSSPerPodByProcessMB = map[string]float64{}
	for _, g := range after.ByProcess {
		rr.RSSPerPodByProcessMB[g.Name] = g.RSSMB
	}
	for _, g := range before.ByProcess {
		rr.RSSPerPodByProcessMB[g.Name] -= g.RSSMB
	}
	for k, v := range rr.RSSPerPodByProcessMB {
		rr.RSSPerPodByProcessMB[k] = round1(v / float64(cfg.Pods))
	}
	slog.Info("Measured pods", "runtime", rr.Runtime, "pods", cfg.Pods, "p50Ms", lat.P50Ms, "p99Ms", lat.P99Ms,
		"maxMs", lat.MaxMs, "rssPerPodMB", rr.RSSPerPodMB, "pssPerPodMB", rr.PSSPerPodMB)
	return nil
}

// podsRatio divides containerd's figures by the process runtime's.
func podsRatio(rs []RuntimeResult) *PodsRatio {
	i := slices.IndexFunc(rs, func(r RuntimeResult) bool { return r.Runtime == "containerd" && r.Latency != nil })
	j := slices.IndexFunc(rs, func(r RuntimeResult) bool { return r.Runtime == "process" && r.Latency != nil })
	if i < 0 || j < 0 {
		return nil
	}
	c, p := rs[i], rs[j]
	return &PodsRatio{
		P50: ratio(c.Latency.P50Ms, p.Latency.P50Ms), P99: ratio(c.Latency.P99Ms, p.Latency.P99Ms),
		Max: ratio(c.Latency.MaxMs, p.Latency.MaxMs), RSSPerPod: ratio(c.RSSPerPodMB, p.RSSPerPodMB),
		PSSPerPod: ratio(c.PSSPerPodMB, p.PSSPerPodMB), AnonPerPod: ratio(c.AnonPerPodMB, p.AnonPerPodMB),
		FirstPod: ratio(c.Warmup.MaxMs, p.Warmup.MaxMs),
	}
}

func round1(v float64) float64 {
	if v < 0 {
		return -round1(-v)
	}
	return float64(int(v*10+0.5)) / 10
}

// createPods is the helper run inside the node's namespace: it creates
// count pods prefix-0.. on node, batch at a time (each batch once the one
// before is Ready), and times each from its create call's return to its
// Ready condition True on an informer.
func createPods(ctx context.Context, client kubernetes.Interface, prefix, node string, count, batch int) (PodLatency,
	error) {
	res := PodLatency{Pods: count, Batch: batch}
	if count < 1 || batch < 1 {
		return res, fmt.Errorf("count %d, batch %d: want positive", count, batch)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pw := newPodWatch(count)
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace("default"),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "bench-pods=" + prefix }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    pw.seen,
		UpdateFunc: func(_, obj any) { pw.seen(obj) },
	}); err != nil {
		return res, err
	}
	factory.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informer, which ends with ctx
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return res, fmt.Errorf("pod informer did not sync")
	}
	pods := client.CoreV1().Pods("default")
	created := make([]time.Time, count)
	start := time.Now()
	for from := 0; from < count; from += batch {
		to := min(from+batch, count)
		errs := make([]error, to-from)
		var wg sync.WaitGroup
		for i := from; i < to; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := pods.Create(ctx, benchPod(fmt.Sprintf("%s-%d", prefix, i), prefix, node),
					metav1.CreateOptions{}); err != nil {
					errs[i-from] = err
					return
				}
				created[i] = time.Now()
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return res, fmt.Errorf("create: %w", err)
			}
		}
		if err := pw.waitReady(ctx, to, podTimeout); err != nil {
			return res, fmt.Errorf("pods %d..%d: %w", from, to-1, err)
		}
	}
	var lat []time.Duration
	var last time.Time
	for i := 0; i < count; i++ {
		at := pw.readyAt(fmt.Sprintf("%s-%d", prefix, i))
		// The Ready event cannot precede the create, but its handler can
		// run before the creating goroutine records the return.
		lat = append(lat, max(at.Sub(created[i]), 0))
		if at.After(last) {
			last = at
		}
		res.SamplesMs = append(res.SamplesMs, ms(lat[i]))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.P50Ms, res.P99Ms, res.MaxMs = ms(percentile(lat, 0.50)), ms(percentile(lat, 0.99)), ms(lat[len(lat)-1])
	res.AllReadySeconds = float64(int(last.Sub(start).Seconds()*100+0.5)) / 100
	return res, nil
}

// benchPod is a pod of the figure: no probe, so Ready follows Running.
func benchPod(name, prefix, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"bench-pods": prefix}},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{Name: "main", Image: podImage, Command: podCommand(),
				ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
}

// podWatch records when each pod was first seen Ready, and the last
// reason a pod is not, for the error when a wait times out.
type podWatch struct {
	mu      sync.Mutex
	ready   map[string]time.Time
	waiting map[string]string
	// changed is signalled (without blocking) whenever a pod turns Ready.
	changed chan struct{}
}

func newPodWatch(n int) *podWatch {
	return &podWatch{ready: make(map[string]time.Time, n), waiting: map[string]string{},
		changed: make(chan struct{}, 1)}
}

func (pw *podWatch) seen(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	now := time.Now()
	pw.mu.Lock()
	defer pw.mu.Unlock()
	if _, done := pw.ready[p.Name]; done {
		return
	}
	if !isPodReady(p) {
		pw.waiting[p.Name] = podState(p)
		return
	}
	pw.ready[p.Name] = now
	delete(pw.waiting, p.Name)
	select {
	case pw.changed <- struct{}{}:
	default:
	}
}

func (pw *podWatch) readyAt(name string) time.Time {
	pw.mu.Lock()
	defer pw.mu.Unlock()
	return pw.ready[name]
}

// waitReady waits until want pods have been seen Ready.
func (pw *podWatch) waitReady(ctx context.Context, want int, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		pw.mu.Lock()
		got, waiting := len(pw.ready), fmt.Sprint(pw.waiting)
		pw.mu.Unlock()
		if got >= want {
			return nil
		}
		select {
		case <-pw.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("%d of %d pods Ready after %v; not Ready: %s", got, want, timeout, waiting)
		}
	}
}

func isPodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podState is the phase of p and why its containers wait, if they do.
func podState(p *corev1.Pod) string {
	s := string(p.Status.Phase)
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			s += " " + w.Reason + " " + w.Message
		}
	}
	return s
}

// settledMemory is nodeMemory once pods pods run their command. A pod of
// the process runtime is Running (and Ready) as soon as its supervisor
// reports the container's pid, while that process is still the svcnet
// helper setting up its mounts; it becomes `sleep` a little later.
func settledMemory(netns, dataDir string, pods int) (*NodeMemory, error) {
	const settle = 30 * time.Second
	deadline := time.Now().Add(settle)
	for {
		mem, err := nodeMemory(netns, dataDir)
		if err != nil {
			return nil, err
		}
		sleeping := 0
		for _, g := range mem.ByProcess {
			if g.Name == podCommand()[0] {
				sleeping = g.Count
			}
		}
		if sleeping >= pods {
			return mem, nil
		}
		if time.Now().After(deadline) {
			slog.Warn("Measured memory before every pod ran its command", "want", pods, "running", sleeping)
			return mem, nil
		}
		time.Sleep(50 * time.Millisecond) // poll interval: exec follows Ready within milliseconds
	}
}

// nodeMemory sums VmRSS and PSS of every process of the node in network
// namespace netns with data dir dataDir, found as the framework's
// killLeftovers finds them: in the namespace, or in a mount namespace of
// their own holding a mount under the data dir; plus every descendant of
// those (containers are children of their containerd shim).
func nodeMemory(netns, dataDir string) (*NodeMemory, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/var/run/netns", netns), &st); err != nil {
		return nil, err
	}
	nsLink := fmt.Sprintf("net:[%d]", st.Ino)
	ownMnt, _ := os.Readlink("/proc/self/ns/mnt")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	parent := map[int]int{}
	node := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		ppid, ok := procParent(pid)
		if !ok {
			continue // gone, or a zombie, which holds no memory
		}
		parent[pid] = ppid
		dir := filepath.Join("/proc", e.Name())
		if l, err := os.Readlink(filepath.Join(dir, "ns", "net")); err == nil && l == nsLink {
			node[pid] = true
		} else if m, err := os.Readlink(filepath.Join(dir, "ns", "mnt")); err == nil && m != ownMnt {
			b, _ := os.ReadFile(filepath.Join(dir, "mountinfo"))
			node[pid] = strings.Contains(string(b), dataDir+"/")
		}
	}
	// A process belongs to the node if an ancestor does.
	var belongs func(pid, depth int) bool
	belongs = func(pid, depth int) bool {
		if node[pid] {
			return true
		}
		pp, ok := parent[pid]
		if !ok || pp <= 1 || depth > 64 {
			return false
		}
		return belongs(pp, depth+1)
	}
	groups := map[string]*ProcessGroup{}
	mem := &NodeMemory{}
	for pid := range parent {
		if !belongs(pid, 0) {
			continue
		}
		pm, err := readProcMem(pid)
		if err != nil || pm.RSSMB == 0 {
			continue // exited meanwhile, or a kernel thread
		}
		g := groups[pm.Name]
		if g == nil {
			g = &ProcessGroup{Name: pm.Name}
			groups[pm.Name] = g
		}
		g.Count++
		g.RSSMB, g.PSSMB, g.AnonMB = g.RSSMB+pm.RSSMB, g.PSSMB+pm.PSSMB, g.AnonMB+pm.AnonMB
		mem.Processes++
		mem.RSSMB, mem.PSSMB, mem.AnonMB = mem.RSSMB+pm.RSSMB, mem.PSSMB+pm.PSSMB, mem.AnonMB+pm.AnonMB
	}
	mem.RSSMB, mem.PSSMB, mem.AnonMB = round1(mem.RSSMB), round1(mem.PSSMB), round1(mem.AnonMB)
	for _, g := range groups {
		g.RSSMB, g.PSSMB, g.AnonMB = round1(g.RSSMB), round1(g.PSSMB), round1(g.AnonMB)
		mem.ByProcess = append(mem.ByProcess, *g)
	}
	sort.Slice(mem.ByProcess, func(i, j int) bool { return mem.ByProcess[i].RSSMB > mem.ByProcess[j].RSSMB })
	return mem, nil
}

// procParent is the parent of pid; false for a process gone or a zombie.
func procParent(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// State and parent follow the parenthesised command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || f[0] == "Z" {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// readProcMem reads the name (comm), VmRSS and RssAnon (status) and Pss
// (smaps_rollup) of pid, in MB; a process gone or a kernel thread has no
// VmRSS.
func readProcMem(pid int) (ProcessGroup, error) {
	pm := ProcessGroup{Count: 1}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return pm, err
	}
	pm.Name = strings.TrimSpace(string(comm))
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return pm, err
	}
	pm.RSSMB, pm.AnonMB = kbField(status, "VmRSS:")/1024, kbField(status, "RssAnon:")/1024
	if rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		pm.PSSMB = kbField(rollup, "Pss:") / 1024
	}
	return pm, nil
}

// kbField is the value of the "key  N kB" line of a /proc file (0 when
// absent).
func kbField(b []byte, key string) float64 {
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb
		}
	}
	return 0
}
