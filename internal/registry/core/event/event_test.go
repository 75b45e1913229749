package event

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// legacyEvent is an event as kubelet and kubectl's recorders write it.
func legacyEvent(mutate func(*corev1.Event)) *corev1.Event {
	now := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-1.18a", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1", APIVersion: "v1"},
		Reason:         "Started",
		Message:        "Started container web",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node-1"},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
		Type:           corev1.EventTypeNormal,
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

// newEvent is an event as the events.k8s.io recorder writes it.
func newEvent(mutate func(*corev1.Event)) *corev1.Event {
	e := &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-1.18b", Namespace: "default"},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1"},
		Reason:              "Scheduled",
		Message:             "Successfully assigned default/web-1 to node-1",
		EventTime:           metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)),
		ReportingController: "default-scheduler",
		ReportingInstance:   "default-scheduler-node-1",
		Action:              "Binding",
		Type:                corev1.EventTypeNormal,
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func TestValidateCoreV1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event *corev1.Event
		want  []string
	}{
		{name: "legacy", event: legacyEvent(nil)},
		{name: "new style", event: newEvent(nil)},
		{
			name:  "cluster-scoped object in default",
			event: legacyEvent(func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"} }),
		},
		{
			name:  "namespace mismatch",
			event: legacyEvent(func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }),
			want:  []string{`involvedObject.namespace: Invalid value: "other": does not match event.namespace`},
		},
		{
			name:  "cluster-scoped object in another namespace",
			event: legacyEvent(func(e *corev1.Event) { e.Namespace = "team"; e.InvolvedObject.Namespace = "" }),
			want:  []string{`involvedObject.namespace: Invalid value: "": does not match event.namespace`},
		},
		{
			name: "new style missing fields",
			event: newEvent(func(e *corev1.Event) {
				e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", strings.Repeat("r", 129)
			}),
			want: []string{
				"reportingComponent: Required value",
				`reportingComponent: Invalid value: "": name part must be non-empty`,
				`reportingComponent: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
				"reportingInstance: Required value",
				"action: Required value",
				`reason: Invalid value: "": can have at most 128 characters`,
			},
		},
		{
			name:  "long note",
			event: newEvent(func(e *corev1.Event) { e.Message = strings.Repeat("m", 1025) }),
			want:  []string{`message: Invalid value: "": can have at most 1024 characters`},
		},
		{
			name:  "no name",
			event: legacyEvent(func(e *corev1.Event) { e.Name = "" }),
			want:  []string{"metadata.name: Required value: name or generateName is required"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), tc.event))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateEventsV1(t *testing.T) {
	for _, tc := range []struct {
		name  string
		event *corev1.Event
		want  []string
	}{
		{name: "valid", event: newEvent(nil)},
		{
			name:  "legacy fields set",
			event: newEvent(func(e *corev1.Event) { e.Count = 3; e.Source.Component = "x"; e.Type = "Info" }),
			want: []string{
				`type: Invalid value: "": has invalid value: Info`,
				`count: Invalid value: "": needs to be unset`,
				`source: Invalid value: "": needs to be unset`,
			},
		},
		{
			name:  "series",
			event: newEvent(func(e *corev1.Event) { e.Series = &corev1.EventSeries{Count: 1} }),
			want: []string{
				`series.count: Invalid value: "": should be at least 2`,
				"series.lastObservedTime: Required value",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(ValidateEventCreate(tc.event, EventsV1))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := newEvent(nil)
	old.ResourceVersion = "7"
	for _, tc := range []struct {
		name   string
		api    API
		mutate func(*corev1.Event)
		want   []string
	}{
		{name: "core/v1 may change reason", api: CoreV1, mutate: func(e *corev1.Event) { e.Reason = "Other" }},
		{
			name:   "events/v1 may not change reason",
			api:    EventsV1,
			mutate: func(e *corev1.Event) { e.Reason = "Other" },
			want:   []string{`reason: Invalid value: "Other": field is immutable`},
		},
		{
			name: "events/v1 series update",
			api:  EventsV1,
			mutate: func(e *corev1.Event) {
				e.Series = &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NowMicro()}
				e.EventTime = metav1.NewMicroTime(e.EventTime.Add(300 * time.Nanosecond))
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := old.DeepCopy()
			tc.mutate(e)
			got := errStrings(ValidateEventUpdate(e, old, tc.api))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFields(t *testing.T) {
	r := Resource(time.Hour)
	if diff := cmp.Diff([]string{"ev"}, r.ShortNames); diff != "" {
		t.Errorf("short names (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name  string
		event *corev1.Event
		want  map[string]string
	}{
		{
			name:  "legacy",
			event: legacyEvent(nil),
			want: map[string]string{"involvedObject.kind": "Pod", "involvedObject.name": "web-1", "involvedObject.uid": "u1",
				"reason": "Started", "source": "kubelet", "reportingComponent": "", "type": "Normal", "metadata.namespace": "default"},
		},
		{
			name:  "source falls back to reporting controller",
			event: newEvent(nil),
			want:  map[string]string{"source": "default-scheduler", "reportingComponent": "default-scheduler"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := r.Fields(tc.event)
			for k, v := range tc.want {
				if got, ok := f[k]; !ok || got != v {
					t.Errorf("field %s: got %q (present %v), want %q", k, got, ok, v)
				}
			}
		})
	}
}
