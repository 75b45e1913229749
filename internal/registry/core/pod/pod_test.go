package pod

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
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

// created returns a pod as stored after a create request.
func created(mutate func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "5", UID: "u1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
	if mutate != nil {
		mutate(p)
	}
	s := Strategy{}
	s.Default(p)
	s.PrepareForCreate(context.Background(), p)
	return p
}

func TestCreateDefaults(t *testing.T) {
	p := created(func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	})
	grace, seconds, prio := int64(30), int64(300), int32(0)
	enable := true
	preempt := corev1.PreemptLowerPriority
	limits := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")}
	want := corev1.PodSpec{
		Containers: []corev1.Container{{
			Name: "web", Image: "nginx:1.27",
			Resources:                corev1.ResourceRequirements{Limits: limits, Requests: limits.DeepCopy()},
			TerminationMessagePath:   "/dev/termination-log",
			TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			ImagePullPolicy:          corev1.PullIfNotPresent,
		}},
		RestartPolicy:                 corev1.RestartPolicyAlways,
		TerminationGracePeriodSeconds: &grace,
		DNSPolicy:                     corev1.DNSClusterFirst,
		ServiceAccountName:            "default",
		DeprecatedServiceAccount:      "default",
		SecurityContext:               &corev1.PodSecurityContext{},
		SchedulerName:                 "default-scheduler",
		Tolerations: []corev1.Toleration{
			{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
			{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
		},
		Priority:           &prio,
		EnableServiceLinks: &enable,
		PreemptionPolicy:   &preempt,
	}
	if diff := cmp.Diff(want, p.Spec); diff != "" {
		t.Errorf("spec mismatch (-want +got):\n%s", diff)
	}
	wantStatus := corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSGuaranteed}
	if diff := cmp.Diff(wantStatus, p.Status); diff != "" {
		t.Errorf("status mismatch (-want +got):\n%s", diff)
	}
	if p.Generation != 1 {
		t.Errorf("generation: got %d, want 1", p.Generation)
	}
	if errs := (Strategy{}).Validate(context.Background(), p); len(errs) != 0 {
		t.Errorf("defaulted pod invalid: %v", errs)
	}
}

func TestQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return l
	}
	for _, tc := range []struct {
		name     string
		req, lim corev1.ResourceList
		want     corev1.PodQOSClass
	}{
		{"none", nil, nil, corev1.PodQOSBestEffort},
		{"requests only", rl("1", ""), nil, corev1.PodQOSBurstable},
		{"equal", rl("1", "1Gi"), rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"cpu limit only", rl("1", ""), rl("1", ""), corev1.PodQOSBurstable},
		{"requests below limits", rl("500m", "1Gi"), rl("1", "1Gi"), corev1.PodQOSBurstable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: tc.req, Limits: tc.lim}}}}}
			if got := qosClass(p); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestValidatePod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{name: "valid"},
		{
			name:   "bad name",
			mutate: func(p *corev1.Pod) { p.Name = "Web_1" },
			want:   []string{`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
		},
		{
			name:   "missing image",
			mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" },
			want:   []string{"spec.containers[0].image: Required value"},
		},
		{
			name:   "image whitespace",
			mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" },
			want:   []string{`spec.containers[0].image: Invalid value: " nginx": must not have leading or trailing whitespace`},
		},
		{
			name:   "deletion cost",
			mutate: func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.PodDeletionCost: "x"} },
			want:   []string{`metadata.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "x": must be a 32bit integer`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := created(tc.mutate)
			got := errStrings((Strategy{}).Validate(context.Background(), p))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	const forbidden = "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`," +
		"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations)," +
		"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
	ads := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name        string
		old, mutate func(*corev1.Pod)
		want        []string
	}{
		{name: "image change", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }},
		{name: "label change", mutate: func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }},
		{name: "add toleration", mutate: func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}},
		{
			name:   "remove toleration",
			mutate: func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[:1] },
			want:   []string{"spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"},
		},
		{name: "lower deadline", old: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(100) },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(50) }},
		{
			name:   "raise deadline",
			old:    func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(100) },
			mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ads(200) },
			want:   []string{"spec.activeDeadlineSeconds: Invalid value: 200: must be less than or equal to previous value"},
		},
		{
			name: "add container",
			mutate: func(p *corev1.Pod) {
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x"})
			},
			want: []string{"spec.containers: Forbidden: pod updates may not add or remove containers"},
		},
		{
			name: "change port",
			mutate: func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
			},
			want: []string{forbidden},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := created(tc.old)
			p := old.DeepCopy()
			tc.mutate(p)
			s := Strategy{}
			s.Default(p)
			s.PrepareForUpdate(context.Background(), p, old)
			var got []string
			for _, e := range errStrings(s.ValidateUpdate(context.Background(), p, old)) {
				first, _, _ := strings.Cut(e, "\n") // drop the spec diff
				got = append(got, first)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrepareForUpdateGeneration(t *testing.T) {
	old := created(nil)
	old.Status.Phase = corev1.PodRunning
	s := Strategy{}

	p := old.DeepCopy()
	p.Labels = map[string]string{"a": "b"}
	p.Status = corev1.PodStatus{}
	s.PrepareForUpdate(context.Background(), p, old)
	if p.Generation != 1 || p.Status.Phase != corev1.PodRunning {
		t.Errorf("label change: got generation %d phase %q, want 1 Running", p.Generation, p.Status.Phase)
	}

	p = old.DeepCopy()
	p.Spec.Containers[0].Image = "nginx:1.28"
	s.PrepareForUpdate(context.Background(), p, old)
	if p.Generation != 2 {
		t.Errorf("image change: got generation %d, want 2", p.Generation)
	}
}

func TestStatusUpdate(t *testing.T) {
	old := created(nil)
	old.Spec.NodeName = "n1"
	ss := StatusStrategy{}

	p := old.DeepCopy()
	p.Spec.NodeName = "n2"
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "10.0.0.2"}}
	ss.PrepareForUpdate(context.Background(), p, old)
	if p.Spec.NodeName != "n1" {
		t.Errorf("spec not kept: nodeName %q", p.Spec.NodeName)
	}
	got := errStrings(ss.ValidateUpdate(context.Background(), p, old))
	want := []string{`status.podIPs: Invalid value: [{"ip":"10.0.0.1"},{"ip":"10.0.0.2"}]: may specify no more than one IP for each IP family`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

func TestBind(t *testing.T) {
	binding := func(node string) *corev1.Binding {
		return &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"a": "b"}},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	}
	t.Run("assigns", func(t *testing.T) {
		p := created(nil)
		if err := Bind(p, binding("n1")); err != nil {
			t.Fatalf("Bind: %v", err)
		}
		if p.Spec.NodeName != "n1" || p.Annotations["a"] != "b" {
			t.Errorf("got nodeName %q annotations %v", p.Spec.NodeName, p.Annotations)
		}
		want := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}}
		if diff := cmp.Diff(want, p.Status.Conditions, cmpopts.IgnoreFields(corev1.PodCondition{}, "LastTransitionTime")); diff != "" {
			t.Errorf("conditions mismatch (-want +got):\n%s", diff)
		}
	})
	for _, tc := range []struct {
		name    string
		mutate  func(*corev1.Pod, *corev1.Binding)
		want    string
		invalid bool
	}{
		{name: "already assigned", mutate: func(p *corev1.Pod, _ *corev1.Binding) { p.Spec.NodeName = "n0" },
			want: `Operation cannot be fulfilled on pods/binding "web": pod web is already assigned to node "n0"`},
		{name: "being deleted", mutate: func(p *corev1.Pod, _ *corev1.Binding) { p.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)} },
			want: `Operation cannot be fulfilled on pods/binding "web": pod web is being deleted, cannot be assigned to a host`},
		{name: "uid mismatch", mutate: func(_ *corev1.Pod, b *corev1.Binding) { b.UID = "other" },
			want: `Operation cannot be fulfilled on pods/binding "web": the UID in the precondition (other) does not match the UID in record (u1). The object might have been deleted and then recreated`},
		{name: "no target", mutate: func(_ *corev1.Pod, b *corev1.Binding) { b.Target.Name = "" }, invalid: true,
			want: `Binding "web" is invalid: target.name: Required value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, b := created(nil), binding("n1")
			tc.mutate(p, b)
			before := p.DeepCopy()
			err := Bind(p, b)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got error %v, want %q", err, tc.want)
			}
			if tc.invalid != apierrors.IsInvalid(err) || (!tc.invalid && !apierrors.IsConflict(err)) {
				t.Errorf("wrong error kind: %v", err)
			}
			if diff := cmp.Diff(before, p); diff != "" {
				t.Errorf("pod modified on failure:\n%s", diff)
			}
		})
	}
}

func TestGracefulDeletion(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		name   string
		node   string
		phase  corev1.PodPhase
		grace  *int64
		want   int64
		noOpts bool
	}{
		{name: "scheduled uses spec grace", node: "n1", want: 30},
		{name: "explicit grace", node: "n1", grace: i64(5), want: 5},
		{name: "unscheduled deletes now", grace: i64(5), want: 0},
		{name: "succeeded deletes now", node: "n1", phase: corev1.PodSucceeded, want: 0},
		{name: "failed deletes now", node: "n1", phase: corev1.PodFailed, want: 0},
		{name: "negative becomes 1", node: "n1", grace: i64(-3), want: 1},
		{name: "no options", node: "n1", noOpts: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := created(nil)
			p.Spec.NodeName = tc.node
			if tc.phase != "" {
				p.Status.Phase = tc.phase
			}
			if tc.noOpts {
				if GracefulDeletion(p, nil) {
					t.Errorf("got graceful with nil options")
				}
				return
			}
			opts := &metav1.DeleteOptions{GracePeriodSeconds: tc.grace}
			if !GracefulDeletion(p, opts) {
				t.Fatalf("got not graceful")
			}
			if *opts.GracePeriodSeconds != tc.want {
				t.Errorf("got grace %d, want %d", *opts.GracePeriodSeconds, tc.want)
			}
		})
	}
}

func TestResource(t *testing.T) {
	r := Resource(Config{})
	if r.Resource != "pods" || r.Kind != "Pod" || !cmp.Equal(r.ShortNames, []string{"po"}) || !cmp.Equal(r.Categories, []string{"all"}) ||
		r.StatusStrategy == nil || r.Scale != nil {
		t.Errorf("unexpected resource: %+v", r)
	}
	p := created(nil)
	p.Spec.NodeName = "n1"
	p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.1"}, {IP: "fd00::1"}}
	want := fields.Set{
		"metadata.name": "web", "metadata.namespace": "default", "spec.nodeName": "n1", "spec.restartPolicy": "Always",
		"spec.schedulerName": "default-scheduler", "spec.serviceAccountName": "default", "spec.hostNetwork": "false",
		"status.phase": "Pending", "status.podIP": "10.0.0.1", "status.podIPs": "10.0.0.1,fd00::1", "status.nominatedNodeName": "",
	}
	if diff := cmp.Diff(want, r.Fields(p)); diff != "" {
		t.Errorf("fields mismatch (-want +got):\n%s", diff)
	}
}

// The API server's delete path discovers graceful deletion through this
// method set (rest.GracefulDeleter).
var _ interface {
	CheckGracefulDelete(context.Context, runtime.Object, *metav1.DeleteOptions) bool
} = Strategy{}
