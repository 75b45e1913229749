package endpointslice

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/controller/endpointslice/podendpoint"
)

// plan lists the writes that bring a Service's slices to the desired state.
type plan struct {
	create []*discovery.EndpointSlice
	update []*discovery.EndpointSlice
	delete []*discovery.EndpointSlice
}

// empty reports whether the plan writes nothing.
func (p plan) empty() bool {
	return len(p.create) == 0 && len(p.update) == 0 && len(p.delete) == 0
}

// reconciler computes plans. It holds no state of its own: the same inputs
// always give the same plan.
type reconciler struct {
	controllerName string
	maxEndpoints   int
	// node returns a Node by name, or an error satisfying
	// apierrors.IsNotFound when there is none.
	node func(name string) (*corev1.Node, error)
}

// compute returns the writes that turn existing (every slice labelled with
// the Service's name and this controller) into the slices for svc and pods.
// A non-nil error with a usable plan reports pods that were left out (their
// Node is unknown); the caller applies the plan and retries later.
func (r *reconciler) compute(svc *corev1.Service, pods []*corev1.Pod, existing []*discovery.EndpointSlice) (plan, error) {
	var p plan
	types := addressTypes(svc)
	byType := map[discovery.AddressType][]*discovery.EndpointSlice{}
	for _, s := range existing {
		if !slices.Contains(types, s.AddressType) {
			p.delete = append(p.delete, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	pods = slices.Clone(pods)
	slices.SortFunc(pods, comparePods)
	var errs []error
	for _, t := range types {
		if err := r.computeForType(&p, svc, pods, byType[t], t); err != nil {
			errs = append(errs, err)
		}
	}
	return p, errors.Join(errs...)
}

// computeForType adds to p the writes for one address type.
func (r *reconciler) computeForType(p *plan, svc *corev1.Service, pods []*corev1.Pod, existing []*discovery.EndpointSlice, addressType discovery.AddressType) error {
	var deletes []*discovery.EndpointSlice
	existingByPorts := map[string][]*discovery.EndpointSlice{}
	for _, s := range existing {
		if ownedBy(s, svc) {
			k := portKey(s.Ports)
			existingByPorts[k] = append(existingByPorts[k], s)
		} else {
			deletes = append(deletes, s)
		}
	}

	var errs []error
	wantByPorts := map[string]*endpointSet{}
	portsByKey := map[string][]discovery.EndpointPort{}
	var keyOrder []string
	for _, pod := range pods {
		if !podendpoint.ShouldBeInEndpoints(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		k := portKey(ports)
		if _, ok := wantByPorts[k]; !ok {
			wantByPorts[k] = newEndpointSet()
			portsByKey[k] = ports
			keyOrder = append(keyOrder, k)
		}
		node, err := r.node(pod.Spec.NodeName)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("get node %q: %w", pod.Spec.NodeName, err)
			}
			// A Pod on an unknown Node is left out until the Node shows
			// up, unless the Service publishes every address anyway.
			if !svc.Spec.PublishNotReadyAddresses {
				errs = append(errs, fmt.Errorf("skipped pod %s: node %q not found", pod.Name, pod.Spec.NodeName))
				continue
			}
			node = nil
		}
		ep := podToEndpoint(pod, node, svc, addressType)
		if len(ep.Addresses) > 0 {
			wantByPorts[k].add(&ep)
		}
	}

	var creates, updates, unchanged []*discovery.EndpointSlice
	for _, k := range keyOrder {
		c, u, d, same := r.byPorts(svc, existingByPorts[k], wantByPorts[k], portsByKey[k], addressType)
		creates = append(creates, c...)
		updates = append(updates, u...)
		deletes = append(deletes, d...)
		unchanged = append(unchanged, same...)
	}
	for k, ss := range existingByPorts {
		if _, ok := wantByPorts[k]; !ok {
			deletes = append(deletes, ss...)
		}
	}

	// A Service always has at least one slice per address type: an empty
	// placeholder when no endpoint exists.
	if len(existing) == len(deletes) && len(creates) == 0 {
		ph := newSlice(svc, nil, addressType, r.controllerName)
		if len(deletes) == 1 && isPlaceholder(deletes[0], ph) {
			unchanged = append(unchanged, deletes[0])
			deletes = nil
		} else {
			creates = append(creates, ph)
		}
	}

	updates = reconcileHints(svc, creates, updates, unchanged)

	// Reuse slices about to be deleted for the ones about to be created:
	// one update instead of a delete and a create.
	for i := 0; i < len(deletes) && len(creates) > 0; {
		old := deletes[i]
		c := creates[len(creates)-1]
		if old.AddressType != c.AddressType || !ownedBy(old, svc) {
			i++
			continue
		}
		c.Name = old.Name
		c.GenerateName = old.GenerateName
		c.ResourceVersion = old.ResourceVersion
		c.UID = old.UID
		c.Annotations = maps.Clone(old.Annotations)
		creates = creates[:len(creates)-1]
		updates = append(updates, c)
		deletes = slices.Delete(deletes, i, i+1)
	}

	p.create = append(p.create, creates...)
	p.update = append(p.update, updates...)
	p.delete = append(p.delete, deletes...)
	return errors.Join(errs...)
}

// byPorts reconciles the slices of one port mapping. Endpoints stay in the
// slice they are in; removed ones leave holes that new endpoints fill,
// first in slices that are written anyway, then in the unchanged slice
// that ends up fullest, and only then in new slices.
func (r *reconciler) byPorts(svc *corev1.Service, existing []*discovery.EndpointSlice, want *endpointSet, ports []discovery.EndpointPort, addressType discovery.AddressType) (creates, updates, deletes, unchanged []*discovery.EndpointSlice) {
	labels := sliceLabels(svc, r.controllerName)
	for _, s := range existing {
		keep := make([]discovery.Endpoint, 0, len(s.Endpoints))
		changed := false
		for i := range s.Endpoints {
			k := endpointKey(&s.Endpoints[i])
			d := want.get(k)
			if d == nil {
				continue
			}
			keep = append(keep, *d)
			if !endpointEqualBeyondKey(d, &s.Endpoints[i]) {
				changed = true
			}
			want.remove(k)
		}
		switch {
		case changed || len(keep) != len(s.Endpoints):
			if len(keep) == 0 {
				deletes = append(deletes, s)
				continue
			}
			c := s.DeepCopy()
			c.Endpoints = keep
			c.Labels = maps.Clone(labels)
			updates = append(updates, c)
		case !maps.Equal(s.Labels, labels):
			c := s.DeepCopy()
			c.Labels = maps.Clone(labels)
			updates = append(updates, c)
		default:
			unchanged = append(unchanged, s)
		}
	}

	if want.len() > 0 && len(updates) > 0 {
		slices.SortStableFunc(updates, func(a, b *discovery.EndpointSlice) int { return len(b.Endpoints) - len(a.Endpoints) })
		for _, s := range updates {
			for want.len() > 0 && len(s.Endpoints) < r.maxEndpoints {
				s.Endpoints = append(s.Endpoints, *want.pop())
			}
		}
	}

	for want.len() > 0 {
		var fill *discovery.EndpointSlice
		if want.len() < r.maxEndpoints {
			if i := sliceToFill(unchanged, want.len(), r.maxEndpoints); i >= 0 {
				fill = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				updates = append(updates, fill)
			}
		}
		if fill == nil {
			fill = newSlice(svc, ports, addressType, r.controllerName)
			creates = append(creates, fill)
		}
		for want.len() > 0 && len(fill.Endpoints) < r.maxEndpoints {
			fill.Endpoints = append(fill.Endpoints, *want.pop())
		}
	}
	return creates, updates, deletes, unchanged
}

// sliceToFill returns the index of the slice that is closest to full after
// taking n more endpoints, or -1 if none has room.
func sliceToFill(ss []*discovery.EndpointSlice, n, maxEndpoints int) int {
	best, bestRoom := -1, maxEndpoints
	for i, s := range ss {
		room := maxEndpoints - (n + len(s.Endpoints))
		if room >= 0 && room < bestRoom {
			best, bestRoom = i, room
			if room == 0 {
				break
			}
		}
	}
	return best
}

// endpointSet is an insertion-ordered set of endpoints keyed by endpointKey.
type endpointSet struct {
	byKey map[string]*discovery.Endpoint
	order []string
	next  int
}

func newEndpointSet() *endpointSet {
	return &endpointSet{byKey: map[string]*discovery.Endpoint{}}
}

func (s *endpointSet) add(ep *discovery.Endpoint) {
	k := endpointKey(ep)
	if _, ok := s.byKey[k]; !ok {
		s.order = append(s.order, k)
	}
	s.byKey[k] = ep
}

func (s *endpointSet) get(k string) *discovery.Endpoint { return s.byKey[k] }

func (s *endpointSet) remove(k string) { delete(s.byKey, k) }

func (s *endpointSet) len() int { return len(s.byKey) }

// pop removes and returns the oldest endpoint still in the set; the set
// must not be empty.
func (s *endpointSet) pop() *discovery.Endpoint {
	for {
		k := s.order[s.next]
		s.next++
		if ep, ok := s.byKey[k]; ok {
			delete(s.byKey, k)
			return ep
		}
	}
}
