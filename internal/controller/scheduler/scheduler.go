package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/svcnet/svcnet/internal/controller/keyqueue"
)

// Name is the schedulerName this scheduler serves.
const Name = corev1.DefaultSchedulerName

// retryUnschedulable bounds how long an unschedulable pod waits without a
// node event before it is tried again (upstream flushes after 5 minutes;
// this system is small, so retry sooner).
const retryUnschedulable = 30 * time.Second

// Config configures the scheduler.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	// Workers is the number of pods bound in parallel (default 4).
	Workers int
}

// Scheduler binds pending pods to nodes.
type Scheduler struct {
	cfg        Config
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced
	queue      *keyqueue.Queue

	mu sync.Mutex
	// assumed holds pods bound by us that the informer does not show as
	// bound yet, so back-to-back decisions still spread.
	assumed map[string]assumedPod
	// pending holds the pods that fit no node, retried on node changes.
	pending map[string]bool
}

type assumedPod struct {
	node  string
	owner types.UID
	// ports are its hostPorts, taken on node already.
	ports []hostPort
}

// Controller is the name the other controllers' callers use.
type Controller = Scheduler

// New builds the scheduler and registers its informer handlers; the
// caller starts cfg.Informers.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, fmt.Errorf("scheduler: client, informers and recorder required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	s := &Scheduler{
		cfg:        cfg,
		podLister:  podInf.Lister(),
		nodeLister: nodeInf.Lister(),
		synced:     []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		assumed:    map[string]assumedPod{},
		pending:    map[string]bool{},
	}
	s.queue = keyqueue.New(keyqueue.Config{Name: "scheduler", Sync: s.schedule, Logger: cfg.Logger,
		Started: "Started scheduler", Failed: "Scheduled pod with errors", KeyName: "pod"})
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.podChanged,
		UpdateFunc: func(_, obj any) { s.podChanged(obj) },
		DeleteFunc: s.podDeleted,
	}); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { s.retryPending() },
		UpdateFunc: func(oldObj, newObj any) {
			if nodeChanged(oldObj.(*corev1.Node), newObj.(*corev1.Node)) {
				s.retryPending()
			}
		},
	}); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return s, nil
}

// nodeChanged reports a change that can make a pod fit (heartbeats are
// ignored).
func nodeChanged(old, cur *corev1.Node) bool {
	return nodeReady(old) != nodeReady(cur) ||
		old.Spec.Unschedulable != cur.Spec.Unschedulable ||
		!apiequality.Semantic.DeepEqual(old.Spec.Taints, cur.Spec.Taints) ||
		!labels.Equals(old.Labels, cur.Labels)
}

// Run waits for the caches and schedules pods until ctx is done.
func (s *Scheduler) Run(ctx context.Context) error {
	s.queue.Run(ctx, s.cfg.Workers, s.synced...)
	return nil
}

func ours(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil &&
		(pod.Spec.SchedulerName == Name || pod.Spec.SchedulerName == "") &&
		len(pod.Spec.SchedulingGates) == 0 &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func (s *Scheduler) podChanged(obj any) {
	pod := obj.(*corev1.Pod)
	key, err := cache.MetaNamespaceKeyFunc(pod)
	if err != nil {
		return
	}
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		s.mu.Lock()
		delete(s.assumed, key)
		delete(s.pending, key)
		s.mu.Unlock()
		if (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed) && len(hostPorts(pod)) > 0 {
			s.retryPending() // its hostPorts are free again
		}
		return
	}
	if ours(pod) {
		s.queue.Add(key)
	}
}

func (s *Scheduler) podDeleted(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	s.mu.Lock()
	delete(s.assumed, key)
	delete(s.pending, key)
	s.mu.Unlock()
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	// Its hostPorts are free again: a pending pod may fit now.
	if pod, ok := obj.(*corev1.Pod); !ok || len(hostPorts(pod)) > 0 {
		s.retryPending()
	}
}

func (s *Scheduler) retryPending() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.pending {
		s.queue.Add(key)
	}
}

func ownerUID(pod *corev1.Pod) types.UID {
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		return ref.UID
	}
	return ""
}

// schedule binds the pod named by key, or records why it cannot.
func (s *Scheduler) schedule(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := s.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	_, isAssumed := s.assumed[key]
	s.mu.Unlock()
	if !ours(pod) || isAssumed {
		return nil
	}
	nodes, err := s.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	node, reasons := s.pick(key, pod, nodes)
	if node == "" {
		return s.unschedulable(ctx, key, pod, unschedulableMessage(len(nodes), reasons))
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := s.cfg.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		s.mu.Lock()
		delete(s.assumed, key)
		s.mu.Unlock()
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			// Bound by someone else, deleted, or replaced: nothing to do.
			return nil
		}
		s.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedScheduling", "Binding rejected: %v", err)
		return fmt.Errorf("bind to %s: %w", node, err)
	}
	s.cfg.Recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %v/%v to %v", pod.Namespace, pod.Name, node)
	s.cfg.Logger.Debug("Bound pod", "pod", key, "node", node)
	return nil
}

// pick chooses a node for pod and assumes the pod there; it returns ""
// and the count of each reason when no node fits.
func (s *Scheduler) pick(key string, pod *corev1.Pod, nodes []*corev1.Node) (string, map[string]int) {
	owner := ownerUID(pod)
	want := hostPorts(pod)
	total := map[string]int{}
	same := map[string]int{}
	ports := map[string][]hostPort{}
	count := func(node string, o types.UID, hp []hostPort) {
		total[node]++
		if owner != "" && o == owner {
			same[node]++
		}
		ports[node] = append(ports[node], hp...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if pods, err := s.podLister.List(labels.Everything()); err == nil {
		for _, p := range pods {
			if p.Spec.NodeName == "" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if k, _ := cache.MetaNamespaceKeyFunc(p); k == key {
				continue
			}
			count(p.Spec.NodeName, ownerUID(p), hostPorts(p))
		}
	}
	for k, a := range s.assumed {
		if k != key {
			count(a.node, a.owner, a.ports)
		}
	}
	reasons := map[string]int{}
	var feasible []*corev1.Node
	for _, n := range nodes {
		r := fits(pod, n)
		if r == "" && !portsFree(want, ports[n.Name]) {
			r = reasonHostPorts
		}
		if r != "" {
			reasons[r]++
			continue
		}
		feasible = append(feasible, n)
	}
	if len(feasible) == 0 {
		return "", reasons
	}
	best := feasible[0]
	for _, n := range feasible[1:] {
		switch {
		case same[n.Name] != same[best.Name]:
			if same[n.Name] < same[best.Name] {
				best = n
			}
		case total[n.Name] != total[best.Name]:
			if total[n.Name] < total[best.Name] {
				best = n
			}
		case n.Name < best.Name:
			best = n
		}
	}
	s.assumed[key] = assumedPod{node: best.Name, owner: owner, ports: want}
	delete(s.pending, key)
	return best.Name, nil
}

// unschedulable records that pod fits no node: the PodScheduled=False
// condition (written only when it changes) and a FailedScheduling event.
func (s *Scheduler) unschedulable(ctx context.Context, key string, pod *corev1.Pod, msg string) error {
	s.mu.Lock()
	s.pending[key] = true
	s.mu.Unlock()
	s.queue.AddAfter(key, retryUnschedulable)
	s.cfg.Recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == msg {
			return nil
		}
	}
	p := pod.DeepCopy()
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now()}
	replaced := false
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodScheduled {
			if p.Status.Conditions[i].Status == corev1.ConditionFalse {
				cond.LastTransitionTime = p.Status.Conditions[i].LastTransitionTime
			}
			p.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		p.Status.Conditions = append(p.Status.Conditions, cond)
	}
	_, err := s.cfg.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("update pod status: %w", err)
	}
	return nil
}
