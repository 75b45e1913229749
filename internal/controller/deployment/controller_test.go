package deployment

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
)

func newDeployment(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	ten, deadline := int32(10), int32(600)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "d-web", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "v1"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}},
			RevisionHistoryLimit:    &ten,
			ProgressDeadlineSeconds: &deadline,
		},
	}
}

func getDeployment(t *testing.T, client *fake.Clientset) *appsv1.Deployment {
	t.Helper()
	d, err := client.AppsV1().Deployments("default").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func updateDeployment(t *testing.T, client *fake.Clientset, mutate func(*appsv1.Deployment)) {
	t.Helper()
	d := getDeployment(t, client)
	mutate(d)
	d.Generation++
	if _, err := client.AppsV1().Deployments("default").Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func listRS(t *testing.T, client *fake.Clientset) map[string]appsv1.ReplicaSet {
	t.Helper()
	list, err := client.AppsV1().ReplicaSets("default").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]appsv1.ReplicaSet{}
	for _, rs := range list.Items {
		out[rs.Name] = rs
	}
	return out
}

// waitRolledOut waits until the Deployment reports the rollout complete
// as kubectl rollout status does, and returns its ReplicaSets.
func waitRolledOut(t *testing.T, client *fake.Clientset, want int32) map[string]appsv1.ReplicaSet {
	t.Helper()
	eventually(t, func() string {
		d := getDeployment(t, client)
		s := d.Status
		cond := getCondition(s, appsv1.DeploymentProgressing)
		switch {
		case s.ObservedGeneration < d.Generation:
			return "waiting for observedGeneration"
		case s.UpdatedReplicas != want || s.Replicas != want || s.AvailableReplicas != want:
			return fmt.Sprintf("status %+v", s)
		case cond == nil || cond.Reason != ReasonNewRSAvailable:
			return fmt.Sprintf("progressing condition %+v", cond)
		}
		return ""
	})
	return listRS(t, client)
}

// totalWatcher records the largest sum of ReplicaSet sizes and pod
// counts ever seen.
type totalWatcher struct {
	mu      sync.Mutex
	maxRS   int32
	maxPods int
}

func watchTotals(t *testing.T, client *fake.Clientset) *totalWatcher {
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	rsInf := factory.Apps().V1().ReplicaSets().Informer()
	podInf := factory.Core().V1().Pods().Informer()
	w := &totalWatcher{}
	check := func(any) {
		w.mu.Lock()
		defer w.mu.Unlock()
		var n int32
		for _, o := range rsInf.GetStore().List() {
			n += replicas(o.(*appsv1.ReplicaSet))
		}
		w.maxRS = max(w.maxRS, n)
		w.maxPods = max(w.maxPods, len(podInf.GetStore().List()))
	}
	h := cache.ResourceEventHandlerFuncs{AddFunc: check, UpdateFunc: func(_, o any) { check(o) }, DeleteFunc: check}
	if _, err := rsInf.AddEventHandler(h); err != nil {
		t.Fatal(err)
	}
	if _, err := podInf.AddEventHandler(h); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	return w
}

func TestRollingUpdate(t *testing.T) {
	client := newClient(newDeployment(4, intstr.FromInt32(1), intstr.FromInt32(0)))
	e := start(t, client)

	rss := waitRolledOut(t, client, 4)
	if len(rss) != 1 {
		t.Fatalf("got %d replica sets, want 1", len(rss))
	}
	var first appsv1.ReplicaSet
	for _, rs := range rss {
		first = rs
	}
	hash := first.Labels[HashLabel]
	if hash == "" || first.Name != "web-"+hash {
		t.Fatalf("replica set %q labels %v: want web-<hash> with %s", first.Name, first.Labels, HashLabel)
	}
	if got := first.Spec.Selector.MatchLabels[HashLabel]; got != hash {
		t.Errorf("selector hash: got %q, want %q", got, hash)
	}
	if got := first.Spec.Template.Labels[HashLabel]; got != hash {
		t.Errorf("template hash: got %q, want %q", got, hash)
	}
	wantAnn := map[string]string{RevisionAnnotation: "1", DesiredReplicasAnnotation: "4", MaxReplicasAnnotation: "5"}
	if diff := cmp.Diff(wantAnn, first.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	for _, p := range listPods(t, client, "default") {
		if p.Labels[HashLabel] != hash {
			t.Errorf("pod %s labels %v: want %s=%s", p.Name, p.Labels, HashLabel, hash)
		}
	}
	if got := getDeployment(t, client).Annotations[RevisionAnnotation]; got != "1" {
		t.Errorf("deployment revision: got %q, want 1", got)
	}

	// Roll a new template with pods that do not become ready: with
	// maxSurge 1 and maxUnavailable 0 exactly one new pod appears and no
	// old pod goes.
	w := watchTotals(t, client)
	e.setAuto(false)
	updateDeployment(t, client, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
	var second string
	eventually(t, func() string {
		rss := listRS(t, client)
		if len(rss) != 2 {
			return fmt.Sprintf("got %d replica sets", len(rss))
		}
		for name, rs := range rss {
			if name != first.Name {
				second = name
				if replicas(&rs) != 1 || rs.Status.Replicas != 1 {
					return fmt.Sprintf("new replica set: spec %d status %d, want 1", replicas(&rs), rs.Status.Replicas)
				}
			} else if replicas(&rs) != 4 {
				return fmt.Sprintf("old replica set: got %d, want 4", replicas(&rs))
			}
		}
		return ""
	})
	e.setAuto(true)
	rss = waitRolledOut(t, client, 4)
	if got := replicas(ptr(rss[first.Name])); got != 0 {
		t.Errorf("old replica set: got %d replicas, want 0", got)
	}
	if got := rss[second].Annotations[RevisionAnnotation]; got != "2" {
		t.Errorf("new revision: got %q, want 2", got)
	}
	w.mu.Lock()
	if w.maxRS > 5 {
		t.Errorf("replica sets summed to %d, want at most replicas+maxSurge=5", w.maxRS)
	}
	w.mu.Unlock()

	// kubectl rollout undo: put the old template back.
	updateDeployment(t, client, func(d *appsv1.Deployment) {
		old := rss[first.Name]
		tmpl := old.Spec.Template.DeepCopy()
		delete(tmpl.Labels, HashLabel)
		d.Spec.Template = *tmpl
	})
	rss = waitRolledOut(t, client, 4)
	if len(rss) != 2 {
		t.Fatalf("got %d replica sets after undo, want 2 (old one reused)", len(rss))
	}
	got := rss[first.Name].Annotations
	if got[RevisionAnnotation] != "3" || got[RevisionHistoryAnnotation] != "1" {
		t.Errorf("undone replica set annotations: got %v, want revision 3, history 1", got)
	}
	if n := replicas(ptr(rss[first.Name])); n != 4 {
		t.Errorf("undone replica set: got %d replicas, want 4", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestScaleAndPause(t *testing.T) {
	client := newClient(newDeployment(3, intstr.FromString("25%"), intstr.FromString("25%")))
	e := start(t, client)
	waitRolledOut(t, client, 3)
	for _, n := range []int32{10, 0, 10} {
		updateDeployment(t, client, func(d *appsv1.Deployment) { d.Spec.Replicas = &n })
		rss := waitRolledOut(t, client, n)
		for _, rs := range rss {
			if got := rs.Annotations[DesiredReplicasAnnotation]; got != fmt.Sprint(n) {
				t.Errorf("desired-replicas: got %q, want %d", got, n)
			}
		}
	}
	// A paused deployment does not roll a template change.
	e.setAuto(true)
	updateDeployment(t, client, func(d *appsv1.Deployment) {
		d.Spec.Paused = true
		d.Spec.Template.Spec.Containers[0].Image = "v2"
	})
	eventually(t, func() string {
		d := getDeployment(t, client)
		cond := getCondition(d.Status, appsv1.DeploymentProgressing)
		if d.Status.ObservedGeneration != d.Generation || cond == nil || cond.Reason != ReasonPaused {
			return fmt.Sprintf("progressing condition %+v", cond)
		}
		return ""
	})
	if n := len(listRS(t, client)); n != 1 {
		t.Errorf("paused deployment: got %d replica sets, want 1", n)
	}
	updateDeployment(t, client, func(d *appsv1.Deployment) { d.Spec.Paused = false })
	rss := waitRolledOut(t, client, 10)
	if len(rss) != 2 {
		t.Errorf("resumed deployment: got %d replica sets, want 2", len(rss))
	}
}

func TestRecreate(t *testing.T) {
	d := newDeployment(3, intstr.FromInt32(0), intstr.FromInt32(0))
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	client := newClient(d)
	start(t, client)
	rss := waitRolledOut(t, client, 3)
	var old string
	for name := range rss {
		old = name
	}
	// When the new ReplicaSet appears, the old one must have no pods.
	var mu sync.Mutex
	var violations []string
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	inf := factory.Apps().V1().ReplicaSets().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		rs := obj.(*appsv1.ReplicaSet)
		if rs.Name == old {
			return
		}
		o, err := client.AppsV1().ReplicaSets("default").Get(ctx, old, metav1.GetOptions{})
		if err == nil && (replicas(o) != 0 || o.Status.Replicas != 0) {
			mu.Lock()
			violations = append(violations, fmt.Sprintf("old replica set had %d/%d replicas", replicas(o), o.Status.Replicas))
			mu.Unlock()
		}
	}}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	updateDeployment(t, client, func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v2" })
	rss = waitRolledOut(t, client, 3)
	if len(rss) != 2 {
		t.Fatalf("got %d replica sets, want 2", len(rss))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(violations) > 0 {
		t.Errorf("new replica set created too early: %v", violations)
	}
}

func TestFenceposts(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		replicas             int32
		surge, unavailable   intstr.IntOrString
		wantSurge, wantUnavl int32
	}{
		{"defaults of 10", 10, intstr.FromString("25%"), intstr.FromString("25%"), 3, 2},
		{"defaults of 1", 1, intstr.FromString("25%"), intstr.FromString("25%"), 1, 0},
		{"both zero", 4, intstr.FromInt32(0), intstr.FromInt32(0), 0, 1},
		{"half of 5", 5, intstr.FromString("50%"), intstr.FromString("50%"), 3, 2},
		{"unavailable above replicas", 2, intstr.FromInt32(1), intstr.FromInt32(5), 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(tc.replicas, tc.surge, tc.unavailable)
			if got := maxSurge(d); got != tc.wantSurge {
				t.Errorf("maxSurge: got %d, want %d", got, tc.wantSurge)
			}
			if got := maxUnavailable(d); got != tc.wantUnavl {
				t.Errorf("maxUnavailable: got %d, want %d", got, tc.wantUnavl)
			}
		})
	}
}

func TestNewRSReplicas(t *testing.T) {
	rs := func(name string, n int32) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name)}, Spec: appsv1.ReplicaSetSpec{Replicas: &n}}
	}
	for _, tc := range []struct {
		name     string
		old, cur int32
		want     int32
	}{
		{"start of rollout", 10, 0, 3},
		{"at surge limit", 10, 3, 3},
		{"old scaled down", 7, 3, 6},
		{"capped at replicas", 0, 8, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeployment(10, intstr.FromString("25%"), intstr.FromString("25%"))
			newRS := rs("new", tc.cur)
			if got := newRSReplicas(d, []*appsv1.ReplicaSet{rs("old", tc.old), newRS}, newRS); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTemplateHash(t *testing.T) {
	d := newDeployment(1, intstr.FromInt32(1), intstr.FromInt32(0))
	a := TemplateHash(&d.Spec.Template, nil)
	if a != TemplateHash(d.Spec.Template.DeepCopy(), nil) {
		t.Errorf("hash not stable")
	}
	one := int32(1)
	if a == TemplateHash(&d.Spec.Template, &one) {
		t.Errorf("collisionCount did not change the hash")
	}
	if strings.ContainsAny(a, "aeiou013") {
		t.Errorf("hash %q: want the safe alphabet", a)
	}
}
