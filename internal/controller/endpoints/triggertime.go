package endpoints

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
)

// triggerTimes computes the endpoints.kubernetes.io/last-change-trigger-time
// of a sync: the earliest change (a Pod's Ready transition, the Service's
// creation) that happened since the previous sync of the Service.
type triggerTimes struct {
	mu    sync.Mutex
	state map[string]triggerState
}

type triggerState struct {
	pods    map[string]time.Time
	service time.Time
}

func newTriggerTimes() *triggerTimes {
	return &triggerTimes{state: map[string]triggerState{}}
}

// compute returns the trigger time of this sync (zero when nothing tracked
// changed) and remembers the inputs for the next one. It runs on every
// sync, written or not, so that unchanged inputs are not reported twice.
func (t *triggerTimes) compute(key string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	prev := t.state[key]
	next := triggerState{pods: make(map[string]time.Time, len(pods)), service: svc.CreationTimestamp.Time}
	var earliest time.Time
	consider := func(at time.Time) {
		if earliest.IsZero() || at.Before(earliest) {
			earliest = at
		}
	}
	for _, pod := range pods {
		at := podendpoint.ReadyTransitionTime(pod)
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
	t.state[key] = next
	return earliest
}

// forget drops the state of a deleted Service.
func (t *triggerTimes) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.state, key)
}
