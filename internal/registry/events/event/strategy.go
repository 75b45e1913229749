package event

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	coreevent "github.com/svcnet/svcnet/internal/registry/core/event"
)

// Strategy is the create/update strategy of events.k8s.io/v1 events.
type Strategy struct{}

var _ registry.Strategy = Strategy{}

// Default does nothing: upstream has no event defaults.
func (Strategy) Default(runtime.Object) {}

// PrepareForCreate does nothing.
func (Strategy) PrepareForCreate(context.Context, runtime.Object) {}

// PrepareForUpdate does nothing.
func (Strategy) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}

// Validate validates a new event with the strict rules.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return coreevent.ValidateEventCreate(ToCore(obj.(*eventsv1.Event)), coreevent.EventsV1)
}

// ValidateUpdate validates an event update with the strict rules.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return coreevent.ValidateEventUpdate(ToCore(obj.(*eventsv1.Event)), ToCore(old.(*eventsv1.Event)), coreevent.EventsV1)
}

// ToCore converts an events.k8s.io/v1 event to its core/v1 form, the
// field mapping upstream's conversion uses.
func ToCore(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          *e.ObjectMeta.DeepCopy(),
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Related != nil {
		out.Related = e.Related.DeepCopy()
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}
