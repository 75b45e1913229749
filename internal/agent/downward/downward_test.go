package downward

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFieldValue(t *testing.T) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: "u-1",
			Labels:      map[string]string{"app": "web", "tier": "front"},
			Annotations: map[string]string{"note": `say "hi"`}},
		Spec: v1.PodSpec{NodeName: "node1", ServiceAccountName: "default"},
	}
	addrs := Addresses{PodIP: "10.244.0.7", HostIP: "172.30.0.1"}
	tests := []struct {
		path    string
		want    string
		wantErr bool
	}{
		{path: "metadata.name", want: "web-0"},
		{path: "metadata.namespace", want: "shop"},
		{path: "metadata.uid", want: "u-1"},
		{path: "metadata.labels['app']", want: "web"},
		{path: "metadata.labels['missing']", want: ""},
		{path: "metadata.labels", want: "app=\"web\"\ntier=\"front\""},
		{path: "metadata.annotations", want: `note="say \"hi\""`},
		{path: "metadata.annotations['note']", want: `say "hi"`},
		{path: "spec.nodeName", want: "node1"},
		{path: "spec.serviceAccountName", want: "default"},
		{path: "status.podIP", want: "10.244.0.7"},
		{path: "status.hostIPs", want: "172.30.0.1"},
		{path: "spec.priority", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := FieldValue(pod, tc.path, addrs)
			if (err != nil) != tc.wantErr {
				t.Fatalf("got err %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
