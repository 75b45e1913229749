package endpointslice

import (
	corev1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
)

// hintsAnnotationEnabled reports whether the Service asks for the
// annotation-driven topology hints (service.kubernetes.io/topology-mode or
// its deprecated predecessor set to Auto). svcnet has no topology cache, so
// such Services get no hints, as upstream without the cache.
func hintsAnnotationEnabled(annotations map[string]string) bool {
	v, ok := annotations[corev1.DeprecatedAnnotationTopologyAwareHints]
	if !ok {
		v, ok = annotations[corev1.AnnotationTopologyMode]
		if !ok {
			return false
		}
	}
	return v == "Auto" || v == "auto"
}

// hintMode returns how endpoints of svc are hinted: "" for no hints,
// "zone" for PreferClose/PreferSameZone, "node" for PreferSameNode.
func hintMode(svc *corev1.Service) string {
	td := svc.Spec.TrafficDistribution
	if td == nil || hintsAnnotationEnabled(svc.Annotations) {
		return ""
	}
	switch *td {
	case corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameZone:
		return "zone"
	case corev1.ServiceTrafficDistributionPreferSameNode:
		return "node"
	}
	return ""
}

// reconcileHints sets the hints of the slices to create and update, and
// returns updates extended by the unchanged slices whose hints are wrong.
func reconcileHints(svc *corev1.Service, creates, updates, unchanged []*discovery.EndpointSlice) []*discovery.EndpointSlice {
	mode := hintMode(svc)
	for _, s := range unchanged {
		if sliceNeedsHints(s, mode) {
			updates = append(updates, s.DeepCopy())
		}
	}
	for _, s := range creates {
		setHints(s, mode)
	}
	for _, s := range updates {
		setHints(s, mode)
	}
	return updates
}

// wantHints returns the hints an endpoint should carry in mode.
func wantHints(ep *discovery.Endpoint, mode string) *discovery.EndpointHints {
	if mode == "" || ep.Conditions.Ready == nil || !*ep.Conditions.Ready {
		return nil
	}
	var h discovery.EndpointHints
	if ep.Zone != nil {
		h.ForZones = []discovery.ForZone{{Name: *ep.Zone}}
	}
	if mode == "node" && ep.NodeName != nil {
		h.ForNodes = []discovery.ForNode{{Name: *ep.NodeName}}
	}
	if h.ForZones == nil && h.ForNodes == nil {
		return nil
	}
	return &h
}

// setHints overwrites the hints of every endpoint. Endpoints that are not
// ready keep what they have when hints are wanted, as upstream does.
func setHints(s *discovery.EndpointSlice, mode string) {
	for i := range s.Endpoints {
		ep := &s.Endpoints[i]
		if mode != "" && (ep.Conditions.Ready == nil || !*ep.Conditions.Ready) {
			continue
		}
		ep.Hints = wantHints(ep, mode)
	}
}

// sliceNeedsHints reports whether setHints would change the slice.
func sliceNeedsHints(s *discovery.EndpointSlice, mode string) bool {
	for i := range s.Endpoints {
		ep := &s.Endpoints[i]
		if mode != "" && (ep.Conditions.Ready == nil || !*ep.Conditions.Ready) {
			continue
		}
		if !hintsEqual(ep.Hints, wantHints(ep, mode)) {
			return true
		}
	}
	return false
}

func hintsEqual(a, b *discovery.EndpointHints) bool {
	if a == nil || b == nil {
		return (a == nil || len(a.ForZones)+len(a.ForNodes) == 0) && (b == nil || len(b.ForZones)+len(b.ForNodes) == 0)
	}
	if len(a.ForZones) != len(b.ForZones) || len(a.ForNodes) != len(b.ForNodes) {
		return false
	}
	for i := range a.ForZones {
		if a.ForZones[i] != b.ForZones[i] {
			return false
		}
	}
	for i := range a.ForNodes {
		if a.ForNodes[i] != b.ForNodes[i] {
			return false
		}
	}
	return true
}
