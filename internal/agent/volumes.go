package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/agent/volumes"
)

// Tuning of pod volumes.
const (
	// volumeRetry is the delay between attempts to set up a pod's volumes
	// while one of them fails (a missing Secret): short, as the pod waits
	// in ContainerCreating for it.
	volumeRetry = 2 * time.Second
	// failedMountEvery bounds the FailedMount events of a waiting pod.
	failedMountEvery = 30 * time.Second
	// volumeRefresh is how often running pods' Secret and ConfigMap
	// volumes are brought up to date (kubelet takes up to about a minute).
	volumeRefresh = 10 * time.Second
)

// errPodTerminating ends the wait for volumes of a pod being deleted.
var errPodTerminating = errors.New("pod is terminating")

// volumeManager returns the pod's volume manager, made on first use and
// kept for the pod's life (it holds the pod's ServiceAccount tokens).
func (w *podWorker) volumeManager() (*volumes.Manager, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.volumes == nil {
		m, err := volumes.New(volumes.Config{Client: w.a.cfg.Client})
		if err != nil {
			return nil, err
		}
		w.volumes = m
	}
	return w.volumes, nil
}

// setupVolumes materialises the pod's volumes, retrying while one fails
// (the pod stays in ContainerCreating and gets FailedMount events), until
// it succeeds, the pod terminates or ctx ends.
func (w *podWorker) setupVolumes(ctx context.Context) (map[string]volumes.Volume, error) {
	pod, _ := w.current()
	if len(pod.Spec.Volumes) == 0 {
		return nil, nil
	}
	m, err := w.volumeManager()
	if err != nil {
		return nil, err
	}
	var lastEvent time.Time
	var lastMsg string
	for {
		vols, err := m.Setup(ctx, pod, w.dir())
		if err == nil {
			return vols, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if msg := err.Error(); msg != lastMsg || time.Since(lastEvent) >= failedMountEvery {
			if lastMsg == "" {
				w.syncStatus(ctx) // Pending with ContainerCreating containers
			}
			w.a.log.Info("Waiting for pod volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			w.event(ctx, v1.EventTypeWarning, "FailedMount", msg)
			lastEvent, lastMsg = time.Now(), msg
		}
		t := time.NewTimer(volumeRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if w.terminating() {
			return nil, errPodTerminating
		}
	}
}

// refreshVolumes keeps the pod's API data volumes up to date until ctx
// ends or the pod terminates.
func (w *podWorker) refreshVolumes(ctx context.Context) {
	pod, _ := w.current()
	if len(pod.Spec.Volumes) == 0 {
		return
	}
	m, err := w.volumeManager()
	if err != nil {
		return
	}
	t := time.NewTicker(volumeRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// The latest pod object: downward API files follow label and
		// annotation changes. A terminating pod's directory is about to
		// be removed and must not be written again.
		cur, _ := w.current()
		if w.terminating() {
			return
		}
		if _, err := m.Setup(ctx, cur, w.dir()); err != nil && ctx.Err() == nil {
			w.a.log.Warn("Failed refreshing pod volumes", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
	}
}

// event records an Event about the pod, as kubelet's recorder does.
func (w *podWorker) event(ctx context.Context, typ, reason, msg string) {
	pod, _ := w.current()
	now := metav1.Now()
	ev := &v1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject: v1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			APIVersion: "v1", ResourceVersion: pod.ResourceVersion},
		Reason: reason, Message: msg, Type: typ, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: v1.EventSource{Component: "kubelet", Host: w.a.cfg.NodeName},
	}
	if _, err := w.a.cfg.Client.CoreV1().Events(pod.Namespace).Create(ctx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		w.a.log.Warn("Failed recording event", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "err", err)
	}
}
