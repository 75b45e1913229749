package nodeproxy

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestContainer(t *testing.T) {
	pod := func(annotation string, names ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		if annotation != "" {
			p.Annotations = map[string]string{defaultContainerAnnotation: annotation}
		}
		for _, n := range names {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n})
		}
		return p
	}
	tests := []struct {
		name    string
		pod     *corev1.Pod
		ask     string
		want    string
		wantErr string
	}{
		{"only container", pod("", "a"), "", "a", ""},
		{"named", pod("", "a", "b"), "b", "b", ""},
		{"annotation", pod("b", "a", "b"), "", "b", ""},
		{"ambiguous", pod("", "a", "b"), "", "", "a container name must be specified for pod p, choose one of: [a b]"},
		{"unknown", pod("", "a"), "x", "", "container x is not valid for pod p"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Container(tc.pod, tc.ask)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got %v, want error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v, want %q", got, err, tc.want)
			}
		})
	}
}
