package event

import (
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Resource describes events.k8s.io/v1 events as upstream's discovery does.
// Upstream stores them with core/v1 events; here they are a resource of
// their own. Every write stores an event for ttl, as core/v1 events.
func Resource(ttl time.Duration) registry.Resource {
	return registry.Resource{
		Group:        "events.k8s.io",
		Version:      "v1",
		Resource:     "events",
		Kind:         "Event",
		ListKind:     "EventList",
		SingularName: "event",
		ShortNames:   []string{"ev"},
		Namespaced:   true,
		Verbs:        []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:          func() runtime.Object { return &eventsv1.Event{} },
		NewList:      func() runtime.Object { return &eventsv1.EventList{} },
		Strategy:     Strategy{},
		Fields:       Fields,
		TTL:          ttl,
	}
}

// Fields returns the field-selector set of an event under the
// events.k8s.io names upstream converts.
func Fields(obj runtime.Object) fields.Set {
	e := obj.(*eventsv1.Event)
	return fields.Set{
		"metadata.name":             e.Name,
		"metadata.namespace":        e.Namespace,
		"regarding.kind":            e.Regarding.Kind,
		"regarding.namespace":       e.Regarding.Namespace,
		"regarding.name":            e.Regarding.Name,
		"regarding.uid":             string(e.Regarding.UID),
		"regarding.apiVersion":      e.Regarding.APIVersion,
		"regarding.resourceVersion": e.Regarding.ResourceVersion,
		"regarding.fieldPath":       e.Regarding.FieldPath,
		"reason":                    e.Reason,
		"reportingController":       e.ReportingController,
		"type":                      e.Type,
	}
}
