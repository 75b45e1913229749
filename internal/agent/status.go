package agent

import (
	"context"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/svcnet/svcnet/internal/agent/cri"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// syncStatus writes the pod's status if it changed.
func (w *podWorker) syncStatus(ctx context.Context) {
	pod, deleted := w.current()
	if deleted {
		return
	}
	pods := w.a.cfg.Client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID {
			return nil
		}
		st := w.status(cur)
		if apiequality.Semantic.DeepEqual(st, cur.Status) {
			return nil
		}
		cur.Status = st
		_, err = pods.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		w.a.log.Warn("Failed updating pod status", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
}

// status computes the pod status from the worker's state; transition times
// of unchanged conditions are kept from cur.
func (w *podWorker) status(cur *v1.Pod) v1.PodStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := v1.PodStatus{Phase: v1.PodPending, QOSClass: cur.Status.QOSClass}
	if w.a.cfg.NodeIP != "" {
		st.HostIP = w.a.cfg.NodeIP
		st.HostIPs = []v1.HostIP{{IP: w.a.cfg.NodeIP}}
	}
	if w.sandbox != nil {
		ip := w.sandbox.IP.String()
		st.PodIP, st.PodIPs = ip, []v1.PodIP{{IP: ip}}
		st.StartTime = &w.startTime
		if cur.Status.StartTime != nil {
			st.StartTime = cur.Status.StartTime
		}
	}
	// Sidecars (restartable init containers) count toward readiness.
	sidecarsReady := true
	for _, c := range cur.Spec.InitContainers {
		rc, ok := w.containers[c.Name]
		if !ok {
			sidecarsReady = sidecarsReady && !isSidecar(&c)
			continue
		}
		if isSidecar(&c) {
			cs := containerStatus(c, rc.State(), w.ready[c.Name], w.started[c.Name])
			w.a.runtimeIDs(&cs, rc)
			sidecarsReady = sidecarsReady && cs.Ready
			st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
			continue
		}
		cs := containerStatus(c, rc.State(), false, false)
		w.a.runtimeIDs(&cs, rc)
		cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	allReady := len(cur.Spec.Containers) > 0 && sidecarsReady
	var n phaseCounts
	for _, c := range cur.Spec.Containers {
		rc, ok := w.containers[c.Name]
		if !ok {
			allReady = false
			n.waiting++
			st.ContainerStatuses = append(st.ContainerStatuses, v1.ContainerStatus{Name: c.Name, Image: c.Image,
				State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}})
			continue
		}
		s := rc.State()
		cs := containerStatus(c, s, w.ready[c.Name], w.started[c.Name])
		w.a.runtimeIDs(&cs, rc)
		if !cs.Ready {
			allReady = false
		}
		n.add(s)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	st.Phase = n.phase(cur.Spec.RestartPolicy, w.initFailed, !w.initDone)
	cond := func(t v1.PodConditionType, ok bool, reason string) {
		c := v1.PodCondition{Type: t, Status: v1.ConditionFalse, Reason: reason}
		if ok {
			c.Status, c.Reason = v1.ConditionTrue, ""
		}
		c.LastTransitionTime = metav1.Now()
		for _, old := range cur.Status.Conditions {
			if old.Type == t && old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
		}
		st.Conditions = append(st.Conditions, c)
	}
	finished := st.Phase == v1.PodSucceeded || st.Phase == v1.PodFailed
	notReady := "ContainersNotReady"
	if finished {
		notReady = "PodCompleted"
	}
	cond(v1.PodReadyToStartContainers, w.sandbox != nil, "")
	cond(v1.PodInitialized, w.initDone, "ContainersNotInitialized")
	cond(v1.ContainersReady, allReady && !finished, notReady)
	cond(v1.PodReady, allReady && !finished, notReady)
	cond(v1.PodScheduled, true, "")
	return st
}

// phaseCounts counts a pod's containers by state, as kubelet does to
// decide the pod's phase.
type phaseCounts struct{ running, stopped, succeeded, waiting int }

func (n *phaseCounts) add(s runtime.State) {
	switch {
	case s.Phase == runtime.Running:
		n.running++
	case s.Phase == runtime.Terminated:
		n.stopped++
		if s.Terminated != nil && s.Terminated.ExitCode == 0 {
			n.succeeded++
		}
	case s.Last != nil:
		// Waiting to run again after a run that ended.
		n.stopped++
	default:
		n.waiting++
	}
}

// phase is kubelet's pod phase: Pending while initializing or while any
// container has not run yet; Running while any runs; once all have
// stopped, as the restart policy says (Always restarts them: Running).
func (n phaseCounts) phase(policy v1.RestartPolicy, initFailed, initializing bool) v1.PodPhase {
	switch {
	case initFailed:
		return v1.PodFailed
	case initializing, n.waiting > 0:
		return v1.PodPending
	case n.running > 0:
		return v1.PodRunning
	case n.stopped > 0:
		switch {
		case policy == v1.RestartPolicyAlways || policy == "":
			return v1.PodRunning
		case n.stopped == n.succeeded:
			return v1.PodSucceeded
		case policy == v1.RestartPolicyOnFailure:
			return v1.PodRunning
		}
		return v1.PodFailed
	}
	return v1.PodPending
}

// runtimeIDs gives a container of a CRI runtime the IDs kubelet reports:
// <runtime>://<container ID>, and the image's ID.
func (a *Agent) runtimeIDs(cs *v1.ContainerStatus, h containerHandle) {
	cc, ok := h.(*cri.Container)
	if !ok {
		return
	}
	id, image := cc.ID(), cc.ImageRef()
	if id == "" {
		cs.ContainerID = ""
	} else {
		cs.ContainerID = a.cri.Name + "://" + id
	}
	if image != "" {
		cs.ImageID = image
	}
	for _, t := range []*v1.ContainerStateTerminated{cs.State.Terminated, cs.LastTerminationState.Terminated} {
		if t != nil {
			t.ContainerID = cs.ContainerID
		}
	}
}

func containerStatus(c v1.Container, s runtime.State, ready, started bool) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: c.Image, RestartCount: int32(s.RestartCount)}
	if s.Pid != 0 || s.Phase != runtime.Waiting {
		cs.ContainerID = "svcnet://" + c.Name
	}
	term := func(t *runtime.Termination) *v1.ContainerStateTerminated {
		return &v1.ContainerStateTerminated{ExitCode: int32(t.ExitCode), Reason: t.Reason, Message: t.Message,
			StartedAt: metav1.NewTime(t.StartedAt), FinishedAt: metav1.NewTime(t.FinishedAt), ContainerID: cs.ContainerID}
	}
	switch s.Phase {
	case runtime.Running:
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(s.StartedAt)}
		cs.Ready = ready && started
		cs.Started = &started
	case runtime.Terminated:
		cs.State.Terminated = term(s.Terminated)
		f := false
		cs.Started = &f
	default:
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: s.Reason, Message: s.Message}
		f := false
		cs.Started = &f
	}
	if s.Last != nil {
		cs.LastTerminationState.Terminated = term(s.Last)
	}
	return cs
}
