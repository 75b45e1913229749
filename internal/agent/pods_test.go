package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func TestPodsHandler(t *testing.T) {
	pod := func(ns, name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{NodeName: "node-a"}}
	}
	client := fake.NewClientset(pod("ns2", "b"), pod("ns1", "a"))
	a, err := New(Config{Client: client, NodeName: "node-a", DataDir: t.TempDir(), SelfArgv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a.podInf.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), a.podInf.Core().V1().Pods().Informer().HasSynced) {
		t.Fatal("pod cache not synced")
	}
	rec := httptest.NewRecorder()
	a.PodsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/pods", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 200 application/json", rec.Code, rec.Header().Get("Content-Type"))
	}
	var got corev1.PodList
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got.Items {
		names = append(names, p.Kind+" "+p.Namespace+"/"+p.Name)
	}
	if diff := cmp.Diff([]string{"Pod ns1/a", "Pod ns2/b"}, names); got.Kind != "PodList" || diff != "" {
		t.Errorf("got kind %q, pods (-want +got):\n%s", got.Kind, diff)
	}
}
