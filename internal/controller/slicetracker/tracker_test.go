package slicetracker

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func slice(name, rv string) *discovery.EndpointSlice {
	return &discovery.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: rv}}
}

func TestStale(t *testing.T) {
	tests := []struct {
		name        string
		write       func(t *Tracker)
		listed      []*discovery.EndpointSlice
		wantBehind  bool
		wantMissing []string
		// wantAfter is Stale's answer for the same listing once more:
		// satisfied expectations are cleared by the first call.
		wantAfterBehind bool
	}{
		{name: "nothing written", listed: []*discovery.EndpointSlice{slice("a", "5")}},
		{name: "write seen", write: func(t *Tracker) { t.Wrote("ns/svc", slice("a", "5")) },
			listed: []*discovery.EndpointSlice{slice("a", "5")}},
		{name: "newer than written", write: func(t *Tracker) { t.Wrote("ns/svc", slice("a", "5")) },
			listed: []*discovery.EndpointSlice{slice("a", "7")}},
		{name: "older than written", write: func(t *Tracker) { t.Wrote("ns/svc", slice("a", "5")) },
			listed: []*discovery.EndpointSlice{slice("a", "4")}, wantBehind: true, wantAfterBehind: true},
		{name: "written but not listed", write: func(t *Tracker) { t.Wrote("ns/svc", slice("a", "5")) },
			wantMissing: []string{"a"}},
		{name: "deleted but still listed", write: func(t *Tracker) { t.Deleted("ns/svc", "a") },
			listed: []*discovery.EndpointSlice{slice("a", "5")}, wantBehind: true, wantAfterBehind: true},
		{name: "deleted and gone", write: func(t *Tracker) { t.Deleted("ns/svc", "a") }},
		{name: "other owner", write: func(t *Tracker) { t.Wrote("ns/other", slice("a", "5")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New()
			if tc.write != nil {
				tc.write(tr)
			}
			behind, missing := tr.Stale("ns/svc", tc.listed)
			if behind != tc.wantBehind {
				t.Errorf("got behind %v, want %v", behind, tc.wantBehind)
			}
			if diff := cmp.Diff(tc.wantMissing, missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
			if behind, _ := tr.Stale("ns/svc", tc.listed); behind != tc.wantAfterBehind {
				t.Errorf("second call: got behind %v, want %v", behind, tc.wantAfterBehind)
			}
		})
	}
}

func TestObservedIgnoresEchoes(t *testing.T) {
	tr := New()
	tr.Wrote("ns/svc", slice("a", "5"))
	if tr.Observed("ns/svc", slice("a", "5"), false) {
		t.Error("got the echo of our own write reported as news")
	}
	if !tr.Observed("ns/svc", slice("a", "9"), false) {
		t.Error("got a later change by someone else ignored")
	}
}
