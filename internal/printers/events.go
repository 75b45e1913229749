package printers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// Events prints core/v1 Events: LAST SEEN TYPE REASON OBJECT MESSAGE, and
// SUBOBJECT SOURCE FIRST SEEN COUNT NAME with -o wide.
func Events(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).Events(ctx, obj, opts)
}

// Events is the package-level Events with p's clock.
func (p *Printer) Events(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, eventColumns(), obj, opts, func(now time.Time, e *corev1.Event, row *metav1.TableRow) error {
		row.Cells = eventCells(now, e)
		return nil
	})
}

// EventsV1 prints events.k8s.io/v1 Events with the same columns as core/v1
// Events, which is what kube-apiserver does (both are one stored kind).
func EventsV1(ctx context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return (&Printer{}).EventsV1(ctx, obj, opts)
}

// EventsV1 is the package-level EventsV1 with p's clock.
func (p *Printer) EventsV1(_ context.Context, obj runtime.Object, opts registry.TableOptions) (*metav1.Table, error) {
	return build(p, eventColumns(), obj, opts, func(now time.Time, e *eventsv1.Event, row *metav1.TableRow) error {
		row.Cells = eventCells(now, coreEvent(e))
		return nil
	})
}

func eventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string", Description: doc["lastTimestamp"]},
		{Name: "Type", Type: "string", Description: doc["type"]},
		{Name: "Reason", Type: "string", Description: doc["reason"]},
		{Name: "Object", Type: "string", Description: doc["involvedObject"]},
		{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
		{Name: "Source", Type: "string", Priority: 1, Description: doc["source"]},
		{Name: "Message", Type: "string", Description: doc["message"]},
		{Name: "First Seen", Type: "string", Priority: 1, Description: doc["firstTimestamp"]},
		{Name: "Count", Type: "string", Priority: 1, Description: doc["count"]},
		{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	}
}

// eventCells renders e. Events written through the new API carry
// eventTime and series instead of the timestamps and count.
func eventCells(now time.Time, e *corev1.Event) []any {
	first := since(now, e.FirstTimestamp)
	if e.FirstTimestamp.IsZero() {
		first = microSince(now, e.EventTime)
	}
	last := since(now, e.LastTimestamp)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	switch {
	case e.Series != nil:
		last = microSince(now, e.Series.LastObservedTime)
		count = e.Series.Count
	case count == 0:
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, e.InvolvedObject.Name)
	}
	return []any{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath,
		eventSource(e), strings.TrimSpace(e.Message), first, int64(count), e.Name}
}

// eventSource is "component, host", falling back to the reporting
// controller and instance, without the host part when it is empty.
func eventSource(e *corev1.Event) string {
	component, host := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if host == "" {
		host = e.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}

// coreEvent maps an events.k8s.io/v1 Event onto the core/v1 fields the
// table reads.
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}
