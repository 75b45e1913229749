package printers

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, exit, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exit, Signal: signal}}
}

func TestPods(t *testing.T) {
	created := ago(time.Hour)
	deleted := ago(time.Minute)
	oneContainer := corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
	twoContainers := corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}, {Name: "log"}}}
	withInit := corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i1"}, {Name: "i2"}}, Containers: []corev1.Container{{Name: "app"}}}
	always := corev1.ContainerRestartPolicyAlways
	withSidecar := corev1.PodSpec{InitContainers: []corev1.Container{{Name: "side", RestartPolicy: &always}}, Containers: []corev1.Container{{Name: "app"}}}
	readyCond := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}

	tests := []struct {
		name       string
		spec       corev1.PodSpec
		status     corev1.PodStatus
		deletion   *metav1.Time
		wantReady  string
		wantStatus string
		wantRestar string
		wantCond   []metav1.TableRowCondition
	}{
		{
			name:      "pending without statuses",
			spec:      oneContainer,
			status:    corev1.PodStatus{Phase: corev1.PodPending},
			wantReady: "0/1", wantStatus: "Pending", wantRestar: "0",
		},
		{
			name:      "running and ready",
			spec:      oneContainer,
			status:    corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running()}}},
			wantReady: "1/1", wantStatus: "Running", wantRestar: "0",
		},
		{
			name:      "running but not ready",
			spec:      twoContainers,
			status:    corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running()}, {Name: "log", State: running()}}},
			wantReady: "1/2", wantStatus: "Running", wantRestar: "0",
		},
		{
			name:      "container creating",
			spec:      oneContainer,
			status:    corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: waiting("ContainerCreating")}}},
			wantReady: "0/1", wantStatus: "ContainerCreating", wantRestar: "0",
		},
		{
			name: "crash loop with last restart time",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
				Name: "app", State: waiting("CrashLoopBackOff"), RestartCount: 4,
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(5 * time.Minute)}},
			}}},
			wantReady: "0/1", wantStatus: "CrashLoopBackOff", wantRestar: "4 (5m ago)",
		},
		{
			name: "restarts without a termination time",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: running(), RestartCount: 2},
			}},
			wantReady: "1/1", wantStatus: "Running", wantRestar: "2",
		},
		{
			name: "completed",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: terminated("Completed", 0, 0)},
			}},
			wantReady: "0/1", wantStatus: "Completed", wantRestar: "0",
			wantCond: []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}},
		},
		{
			name: "failed with error",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: terminated("Error", 1, 0)},
			}},
			wantReady: "0/1", wantStatus: "Error", wantRestar: "0",
			wantCond: []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}},
		},
		{
			name: "exit code without reason",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: terminated("", 137, 0)},
			}},
			wantReady: "0/1", wantStatus: "ExitCode:137", wantRestar: "0",
		},
		{
			name: "signal without reason",
			spec: oneContainer,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: terminated("", 0, 9)},
			}},
			wantReady: "0/1", wantStatus: "Signal:9", wantRestar: "0",
		},
		{
			name: "completed container with another running and ready pod",
			spec: twoContainers,
			status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyCond, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: running()}, {Name: "log", State: terminated("Completed", 0, 0)},
			}},
			wantReady: "1/2", wantStatus: "Running", wantRestar: "0",
		},
		{
			name: "completed container with another running, pod not ready",
			spec: twoContainers,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", Ready: true, State: running()}, {Name: "log", State: terminated("Completed", 0, 0)},
			}},
			wantReady: "1/2", wantStatus: "NotReady", wantRestar: "0",
		},
		{
			name: "first container's reason wins",
			spec: twoContainers,
			status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
				{Name: "app", State: waiting("ImagePullBackOff")}, {Name: "log", State: waiting("ContainerCreating")},
			}},
			wantReady: "0/2", wantStatus: "ImagePullBackOff", wantRestar: "0",
		},
		{
			name:      "terminating",
			spec:      oneContainer,
			deletion:  &deleted,
			status:    corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", Ready: true, State: running()}}},
			wantReady: "1/1", wantStatus: "Terminating", wantRestar: "0",
		},
		{
			name:      "deleted after success stays completed",
			spec:      oneContainer,
			deletion:  &deleted,
			status:    corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{{Name: "app", State: terminated("Completed", 0, 0)}}},
			wantReady: "0/1", wantStatus: "Completed", wantRestar: "0",
			wantCond: []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Succeeded", Message: "The pod has completed successfully."}},
		},
		{
			name:      "node lost",
			spec:      oneContainer,
			deletion:  &deleted,
			status:    corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost"},
			wantReady: "0/1", wantStatus: "Unknown", wantRestar: "0",
		},
		{
			name:      "status reason",
			spec:      oneContainer,
			status:    corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"},
			wantReady: "0/1", wantStatus: "Evicted", wantRestar: "0",
			wantCond: []metav1.TableRowCondition{{Type: metav1.RowCompleted, Status: metav1.ConditionTrue, Reason: "Failed", Message: "The pod failed."}},
		},
		{
			name:      "scheduling gated",
			spec:      oneContainer,
			status:    corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "SchedulingGated"}}},
			wantReady: "0/1", wantStatus: "SchedulingGated", wantRestar: "0",
		},
		{
			name: "init containers running",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated("Completed", 0, 0)}, {Name: "i2", State: running()}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", State: waiting("PodInitializing")}}},
			wantReady: "0/1", wantStatus: "Init:1/2", wantRestar: "0",
		},
		{
			name: "init container waiting for its turn",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: waiting("PodInitializing")}, {Name: "i2", State: waiting("PodInitializing")}}},
			wantReady: "0/1", wantStatus: "Init:0/2", wantRestar: "0",
		},
		{
			name: "init container crash loop",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: waiting("CrashLoopBackOff"), RestartCount: 3,
					LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(90 * time.Second)}}}}},
			wantReady: "0/1", wantStatus: "Init:CrashLoopBackOff", wantRestar: "3 (90s ago)",
		},
		{
			name: "init container failed",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated("Error", 2, 0)}}},
			wantReady: "0/1", wantStatus: "Init:Error", wantRestar: "0",
		},
		{
			name: "init container exit code",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated("", 3, 0)}}},
			wantReady: "0/1", wantStatus: "Init:ExitCode:3", wantRestar: "0",
		},
		{
			name: "init container signal",
			spec: withInit,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "i1", State: terminated("", 143, 15)}}},
			wantReady: "0/1", wantStatus: "Init:Signal:15", wantRestar: "0",
		},
		{
			name: "sidecar counts as a container",
			spec: withSidecar,
			status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyCond,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "side", Started: ptrTo(true), Ready: true, State: running(), RestartCount: 1}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "app", Ready: true, State: running(), RestartCount: 2}}},
			wantReady: "2/2", wantStatus: "Running", wantRestar: "3",
		},
		{
			name: "sidecar not started blocks initialization",
			spec: withSidecar,
			status: corev1.PodStatus{Phase: corev1.PodPending,
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "side", Started: ptrTo(false), State: running()}}},
			wantReady: "0/2", wantStatus: "Init:0/1", wantRestar: "0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: created, DeletionTimestamp: tc.deletion}, Spec: tc.spec, Status: tc.status}
			table, err := testPrinter().Pods(t.Context(), pod, registryOpts())
			if err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			want := []any{"p", tc.wantReady, tc.wantStatus, tc.wantRestar, "60m", "<none>", "<none>", "<none>", "<none>"}
			if diff := cmp.Diff(want, table.Rows[0].Cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCond, table.Rows[0].Conditions); diff != "" {
				t.Errorf("conditions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodsWide(t *testing.T) {
	spec := corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}}
	tests := []struct {
		name   string
		spec   corev1.PodSpec
		status corev1.PodStatus
		want   []any
	}{
		{
			name:   "pod IPs take precedence",
			spec:   spec,
			status: corev1.PodStatus{PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "fd00::5"}, {IP: "10.244.0.5"}}, NominatedNodeName: "node-2"},
			want:   []any{"fd00::5", "node-1", "node-2", "<none>"},
		},
		{
			name:   "legacy pod IP",
			spec:   spec,
			status: corev1.PodStatus{PodIP: "10.244.0.5"},
			want:   []any{"10.244.0.5", "node-1", "<none>", "<none>"},
		},
		{
			name: "readiness gates",
			spec: corev1.PodSpec{Containers: spec.Containers, ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "a"}, {ConditionType: "b"}, {ConditionType: "c"}}},
			status: corev1.PodStatus{Conditions: []corev1.PodCondition{
				{Type: "a", Status: corev1.ConditionTrue}, {Type: "b", Status: corev1.ConditionFalse},
			}},
			want: []any{"<none>", "<none>", "<none>", "1/3"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cells := rowOf(t, testPrinter().Pods, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: tc.spec, Status: tc.status})
			if diff := cmp.Diff(tc.want, cells[5:]); diff != "" {
				t.Errorf("wide cells (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodTemplates(t *testing.T) {
	pt := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "tpl"}, Template: corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"b": "2", "a": "1"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "agnhost"}, {Name: "side", Image: "pause"}}},
	}}
	want := []any{"tpl", "app,side", "agnhost,pause", "a=1,b=2"}
	if diff := cmp.Diff(want, rowOf(t, testPrinter().PodTemplates, pt)); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}
