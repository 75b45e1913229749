package controllerrevision

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestValidate(t *testing.T) {
	valid := func() *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Name: "db-7c9d", Namespace: "default", ResourceVersion: "1"},
			Data:       runtime.RawExtension{Raw: []byte(`{"spec":{}}`)},
			Revision:   1,
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*appsv1.ControllerRevision)
		want   []string
	}{
		{name: "valid", mutate: func(*appsv1.ControllerRevision) {}},
		{
			name:   "no data and negative revision",
			mutate: func(r *appsv1.ControllerRevision) { r.Data = runtime.RawExtension{}; r.Revision = -1 },
			want: []string{
				"data: Required value: data is mandatory",
				"revision: Invalid value: -1: must be greater than or equal to 0",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.mutate(r)
			got := errStrings((Strategy{}).Validate(context.Background(), r))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}

	old := valid()
	r := valid()
	r.Data = runtime.RawExtension{Raw: []byte(`{"spec":{"x":1}}`)}
	got := errStrings((Strategy{}).ValidateUpdate(context.Background(), r, old))
	want := []string{`data: Invalid value: {"spec":{"x":1}}: field is immutable`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("update errors mismatch (-want +got):\n%s", diff)
	}
	if res := Resource(); res.Resource != "controllerrevisions" || res.StatusStrategy != nil || res.Scale != nil {
		t.Errorf("unexpected resource %+v", res)
	}
}
