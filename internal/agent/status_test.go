package agent

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

func TestPhase(t *testing.T) {
	running := runtime.State{Phase: runtime.Running}
	creating := runtime.State{Phase: runtime.Waiting, Reason: "ContainerCreating"}
	pulling := runtime.State{Phase: runtime.Waiting, Reason: "ImagePullBackOff"}
	crashing := runtime.State{Phase: runtime.Waiting, Reason: "CrashLoopBackOff", Last: &runtime.Termination{ExitCode: 1}}
	done := runtime.State{Phase: runtime.Terminated, Terminated: &runtime.Termination{ExitCode: 0}}
	failed := runtime.State{Phase: runtime.Terminated, Terminated: &runtime.Termination{ExitCode: 2}}
	for _, tc := range []struct {
		name         string
		policy       v1.RestartPolicy
		states       []runtime.State
		initializing bool
		initFailed   bool
		want         v1.PodPhase
	}{
		{"one runs, one still pulls", v1.RestartPolicyAlways, []runtime.State{running, pulling}, false, false, v1.PodPending},
		{"all run", v1.RestartPolicyAlways, []runtime.State{running, running}, false, false, v1.PodRunning},
		{"being created", v1.RestartPolicyAlways, []runtime.State{creating}, false, false, v1.PodPending},
		{"initializing", v1.RestartPolicyAlways, []runtime.State{creating}, true, false, v1.PodPending},
		{"init failed", v1.RestartPolicyNever, []runtime.State{creating}, true, true, v1.PodFailed},
		{"crash loop", v1.RestartPolicyAlways, []runtime.State{crashing}, false, false, v1.PodRunning},
		{"one runs, one crashes", v1.RestartPolicyAlways, []runtime.State{running, crashing}, false, false, v1.PodRunning},
		{"Never: all succeeded", v1.RestartPolicyNever, []runtime.State{done, done}, false, false, v1.PodSucceeded},
		{"Never: one failed", v1.RestartPolicyNever, []runtime.State{done, failed}, false, false, v1.PodFailed},
		{"Never: one still runs", v1.RestartPolicyNever, []runtime.State{done, running}, false, false, v1.PodRunning},
		{"OnFailure: succeeded after restarts", v1.RestartPolicyOnFailure,
			[]runtime.State{{Phase: runtime.Terminated, RestartCount: 2, Terminated: &runtime.Termination{}}}, false, false, v1.PodSucceeded},
		{"OnFailure: waiting to retry", v1.RestartPolicyOnFailure, []runtime.State{crashing}, false, false, v1.PodRunning},
		{"Always: all exited", v1.RestartPolicyAlways, []runtime.State{done}, false, false, v1.PodRunning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n phaseCounts
			for _, s := range tc.states {
				n.add(s)
			}
			if got := n.phase(tc.policy, tc.initFailed, tc.initializing); got != tc.want {
				t.Errorf("phase = %s, want %s", got, tc.want)
			}
		})
	}
}
