package volumes

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// tokenIssuer answers TokenRequests on a fake clientset with token-<n>,
// valid for the requested lifetime from now(), or with *fail when set.
type tokenIssuer struct{}

func (tokenIssuer) install(client *fake.Clientset, now func() time.Time, issued *int, fail *error) {
	client.PrependReactor("create", "serviceaccounts", func(a clienttesting.Action) (bool, runtime.Object, error) {
		ca, ok := a.(clienttesting.CreateAction)
		if !ok || ca.GetSubresource() != "token" {
			return false, nil, nil
		}
		if fail != nil && *fail != nil {
			return true, nil, *fail
		}
		tr := ca.GetObject().(*authenticationv1.TokenRequest).DeepCopy()
		if ref := tr.Spec.BoundObjectRef; ref == nil || ref.Kind != "Pod" || ref.Name != "p" || ref.UID != "u1" {
			return true, nil, fmt.Errorf("token not bound to the pod: %+v", ref)
		}
		*issued++
		tr.Status.Token = fmt.Sprintf("token-%d", *issued)
		tr.Status.ExpirationTimestamp = metav1.NewTime(now().Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second))
		return true, tr, nil
	})
}

func TestServiceAccountTokenRefresh(t *testing.T) {
	start := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { return now }
	client := fake.NewClientset()
	issued := 0
	var fail error
	tokenIssuer{}.install(client, clock, &issued, &fail)
	m, err := New(Config{Client: client, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	token := &v1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(1000))}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1"},
		Spec: v1.PodSpec{ServiceAccountName: "default", Volumes: []v1.Volume{{Name: "api", VolumeSource: v1.VolumeSource{
			Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{{ServiceAccountToken: token}}}}}}}}
	dir := t.TempDir()
	steps := []struct {
		name    string
		at      time.Duration // since start
		fail    error
		want    string
		wantErr bool
	}{
		{name: "first setup requests a token", at: 0, want: "token-1"},
		{name: "kept before 80% of its life", at: 799 * time.Second, want: "token-1"},
		{name: "replaced after 80% of its life", at: 800 * time.Second, want: "token-2"},
		{name: "a failed refresh keeps the valid token", at: 1700 * time.Second, fail: errors.New("API down"), want: "token-2"},
		{name: "an expired token is not served", at: 1800 * time.Second, fail: errors.New("API down"), wantErr: true},
		{name: "recovers once the API answers", at: 1801 * time.Second, want: "token-3"},
	}
	for _, st := range steps {
		now, fail = start.Add(st.at), st.fail
		vols, err := m.Setup(context.Background(), pod, dir)
		if st.wantErr {
			if err == nil {
				t.Fatalf("%s: got no error, want one", st.name)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := readVolume(t, vols["api"].Path)["token"]; got != "-rw-r--r-- "+st.want {
			t.Errorf("%s: got token file %q, want %q", st.name, got, st.want)
		}
	}
}
