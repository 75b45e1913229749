package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEvents(t *testing.T) {
	pod := corev1.ObjectReference{Kind: "Pod", Name: "web-1", FieldPath: "spec.containers{app}"}
	micro := func(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(testNow.Add(-d)) }
	tests := []struct {
		name  string
		event corev1.Event
		want  []any
	}{
		{
			name: "legacy event with count",
			event: corev1.Event{Type: "Normal", Reason: "Pulled", Message: "  pulled image\n", InvolvedObject: pod,
				Source: corev1.EventSource{Component: "kubelet", Host: "n1"}, FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(time.Minute), Count: 4},
			want: []any{"60s", "Normal", "Pulled", "pod/web-1", "spec.containers{app}", "kubelet, n1", "pulled image", "10m", int64(4), "ev"},
		},
		{
			name: "no last timestamp uses first, zero count is one",
			event: corev1.Event{Type: "Warning", Reason: "BackOff", InvolvedObject: pod,
				Source: corev1.EventSource{Component: "kubelet"}, FirstTimestamp: ago(10 * time.Minute)},
			want: []any{"10m", "Warning", "BackOff", "pod/web-1", "spec.containers{app}", "kubelet", "", "10m", int64(1), "ev"},
		},
		{
			name: "new-style event with series and reporting controller",
			event: corev1.Event{Type: "Normal", Reason: "Sync", InvolvedObject: corev1.ObjectReference{Kind: "Service", Name: "web"},
				EventTime: micro(time.Hour), Series: &corev1.EventSeries{Count: 9, LastObservedTime: micro(2 * time.Minute)},
				ReportingController: "svcnet.io/lb", ReportingInstance: "lb-0"},
			want: []any{"2m", "Normal", "Sync", "service/web", "", "svcnet.io/lb, lb-0", "", "60m", int64(9), "ev"},
		},
		{
			name:  "object without name, no times",
			event: corev1.Event{Type: "Normal", Reason: "Starting", InvolvedObject: corev1.ObjectReference{Kind: "Node"}},
			want:  []any{"<unknown>", "Normal", "Starting", "node", "", "", "", "<unknown>", int64(1), "ev"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.event
			e.ObjectMeta = metav1.ObjectMeta{Name: "ev", Namespace: "default"}
			if diff := cmp.Diff(tc.want, rowOf(t, testPrinter().Events, &e)); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventsV1(t *testing.T) {
	e := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "ev"},
		EventTime:  metav1.NewMicroTime(testNow.Add(-5 * time.Minute)),
		Series:     &eventsv1.EventSeries{Count: 3, LastObservedTime: metav1.NewMicroTime(testNow.Add(-30 * time.Second))},
		Regarding:  corev1.ObjectReference{Kind: "Service", Name: "web"}, Note: "allocated",
		Type: "Normal", Reason: "IPAllocated", ReportingController: "svcnet.io/lb",
	}
	want := []any{"30s", "Normal", "IPAllocated", "service/web", "", "svcnet.io/lb", "allocated", "5m", int64(3), "ev"}
	if diff := cmp.Diff(want, rowOf(t, testPrinter().EventsV1, e)); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}
