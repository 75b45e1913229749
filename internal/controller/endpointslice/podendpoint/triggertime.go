package podendpoint

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TriggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// of a controller's sync: the earliest of the changes (a Pod's Ready transition, the
// Service's creation) that happened since the previous sync of the Service.
// Proxies use it to measure network programming latency. It is safe for
// concurrent use.
type TriggerTimes struct {
	mu    sync.Mutex
	state map[string]triggerState
}

type triggerState struct {
	pods    map[string]time.Time
	service time.Time
}

// NewTriggerTimes returns an empty TriggerTimes.
func NewTriggerTimes() *TriggerTimes {
	return &TriggerTimes{state: map[string]triggerState{}}
}

// Compute returns the trigger time for this sync of the Service svcKey
// (zero when nothing the tracker follows changed) and remembers the inputs
// for the next one. It runs on every sync, written or not, so that
// unchanged inputs are not reported twice.
func (t *TriggerTimes) Compute(svcKey string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.state[svcKey]
	var earliest time.Time
	consider := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	next := triggerState{pods: make(map[string]time.Time, len(pods)), service: svc.CreationTimestamp.Time}
	for _, pod := range pods {
		at := ReadyTransitionTime(pod)
		if at.IsZero() {
			continue
		}
		next.pods[pod.Name] = at
		if at.After(prev.pods[pod.Name]) {
			consider(at)
		}
	}
	if next.service.After(prev.service) {
		consider(next.service)
	}
	t.state[svcKey] = next
	return earliest
}

// Forget drops the state of a deleted Service.
func (t *TriggerTimes) Forget(svcKey string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.state, svcKey)
}
