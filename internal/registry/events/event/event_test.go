package event

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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

func newEvent(mutate func(*eventsv1.Event)) *eventsv1.Event {
	e := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-1.18b", Namespace: "default", ResourceVersion: "3"},
		EventTime:           metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		ReportingController: "svcnet.io/agent",
		ReportingInstance:   "agent-node-1",
		Action:              "Started",
		Reason:              "Started",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-1", UID: "u1"},
		Note:                "Started container web",
		Type:                corev1.EventTypeNormal,
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "no event time",
			mutate: func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} },
			want:   []string{"eventTime: Required value"},
		},
		{
			name:   "no reporting controller",
			mutate: func(e *eventsv1.Event) { e.ReportingController = "" },
			want: []string{
				"reportingController: Required value",
				`reportingController: Invalid value: "": name part must be non-empty`,
				`reportingController: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			},
		},
		{
			name:   "deprecated count set",
			mutate: func(e *eventsv1.Event) { e.DeprecatedCount = 2 },
			want:   []string{`count: Invalid value: "": needs to be unset`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := errStrings(Strategy{}.Validate(context.Background(), newEvent(tc.mutate)))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateUpdate(t *testing.T) {
	old := newEvent(nil)
	series := newEvent(func(e *eventsv1.Event) {
		e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC))}
	})
	if errs := (Strategy{}).ValidateUpdate(context.Background(), series, old); len(errs) != 0 {
		t.Errorf("series update: got errors %v, want none", errs)
	}
	note := newEvent(func(e *eventsv1.Event) { e.Note = "changed" })
	got := errStrings(Strategy{}.ValidateUpdate(context.Background(), note, old))
	want := []string{`message: Invalid value: "changed": field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

func TestResource(t *testing.T) {
	r := Resource(time.Hour)
	if r.Group != "events.k8s.io" || r.Resource != "events" {
		t.Errorf("got %s/%s, want events.k8s.io/events", r.Group, r.Resource)
	}
	f := r.Fields(newEvent(nil))
	for k, v := range map[string]string{"regarding.kind": "Pod", "regarding.name": "web-1", "reportingController": "svcnet.io/agent", "type": "Normal"} {
		if f[k] != v {
			t.Errorf("field %s: got %q, want %q", k, f[k], v)
		}
	}
}
