package cri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	critest "k8s.io/cri-api/pkg/apis/testing"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// fakeRuntime is a Runtime over the CRI fakes, with short back-offs: the
// supervisor's logic without a container runtime (TestContainerd in
// test/e2e runs the real one).
func fakeRuntime() (*Runtime, *critest.FakeRuntimeService, *critest.FakeImageService) {
	rs, is := critest.NewFakeRuntimeService(), critest.NewFakeImageService()
	r := &Runtime{cfg: Config{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond},
		log: slog.New(slog.DiscardHandler), rs: rs, is: is, pulls: map[string]*sync.Mutex{}}
	return r, rs, is
}

// exit makes the fake's running container of c exit with code.
func exit(rs *critest.FakeRuntimeService, c *Container, code int32, reason string) {
	rs.Lock()
	defer rs.Unlock()
	fc := rs.Containers[c.ID()]
	fc.State, fc.ExitCode, fc.Reason, fc.FinishedAt = runtimeapi.ContainerState_CONTAINER_EXITED, code, reason, time.Now().UnixNano()
}

// waitState polls c's state until ok says yes, failing after a deadline.
func waitState(t *testing.T, c *Container, what string, ok func(runtime.State) bool) runtime.State {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := c.State()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s: state %+v", what, st)
		}
		select {
		case <-c.Done():
			if st := c.State(); ok(st) {
				return st
			}
			t.Fatalf("no %s before supervision ended: state %+v", what, c.State())
		case <-time.After(5 * time.Millisecond): // poll interval
		}
	}
}

func running(st runtime.State) bool { return st.Phase == runtime.Running }

func TestSupervisor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(rs *critest.FakeRuntimeService, is *critest.FakeImageService)
		spec  func(*ContainerSpec)
		run   func(t *testing.T, rs *critest.FakeRuntimeService, c *Container)
	}{
		{name: "Never: completed run ends supervision", spec: func(s *ContainerSpec) { s.RestartPolicy = runtime.RestartNever },
			run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
				waitState(t, c, "running", running)
				exit(rs, c, 0, "Completed")
				<-c.Done()
				st := c.State()
				if st.Phase != runtime.Terminated || st.Terminated.Reason != "Completed" || st.RestartCount != 0 {
					t.Fatalf("state %+v", st)
				}
			}},
		{name: "OnFailure: failed run restarts after back-off", spec: func(s *ContainerSpec) { s.RestartPolicy = runtime.RestartOnFailure },
			run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
				waitState(t, c, "running", running)
				first := c.ID()
				exit(rs, c, 137, "OOMKilled")
				waitState(t, c, "CrashLoopBackOff", func(st runtime.State) bool { return st.Reason == ReasonCrashLoopBackOff })
				st := waitState(t, c, "second run", func(st runtime.State) bool { return running(st) && st.RestartCount == 1 })
				if st.Last == nil || st.Last.ExitCode != 137 || st.Last.Reason != "OOMKilled" {
					t.Fatalf("last termination %+v", st.Last)
				}
				if c.ID() == first || c.LogPath(true) == "" || c.LogPath(false) == c.LogPath(true) {
					t.Fatalf("run 2 is %s (run 1 %s), logs %q %q", c.ID(), first, c.LogPath(false), c.LogPath(true))
				}
				exit(rs, c, 0, "Completed")
				<-c.Done()
				if st := c.State(); st.Phase != runtime.Terminated || st.RestartCount != 1 {
					t.Fatalf("after success: %+v", st)
				}
			}},
		{name: "pull failure: ErrImagePull then ImagePullBackOff, then runs",
			setup: func(_ *critest.FakeRuntimeService, is *critest.FakeImageService) {
				is.InjectError("PullImage", errors.New("not found"))
				is.InjectError("PullImage", errors.New("not found"))
			},
			run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
				waitState(t, c, "ErrImagePull", func(st runtime.State) bool { return st.Reason == ReasonErrImagePull })
				waitState(t, c, "ImagePullBackOff", func(st runtime.State) bool { return st.Reason == ReasonImagePullBackOff })
				waitState(t, c, "running", running)
			}},
		{name: "config error: CreateContainerConfigError", spec: func(s *ContainerSpec) {
			s.Config = func(*runtimeapi.Image) (*runtimeapi.ContainerConfig, error) {
				return nil, fmt.Errorf("container has runAsNonRoot and image will run as root")
			}
		}, run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
			st := waitState(t, c, "config error", func(st runtime.State) bool { return st.Reason == ReasonCreateContainerConfigError })
			if st.Message == "" {
				t.Fatal("no message")
			}
		}},
		{name: "start failure: RunContainerError", setup: func(rs *critest.FakeRuntimeService, _ *critest.FakeImageService) {
			rs.InjectError("StartContainer", errors.New("exec: no such file"))
		}, run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
			waitState(t, c, "RunContainerError", func(st runtime.State) bool { return st.Reason == ReasonRunContainerError })
			waitState(t, c, "running", running)
		}},
		{name: "Stop: terminated, not restarted", run: func(t *testing.T, rs *critest.FakeRuntimeService, c *Container) {
			waitState(t, c, "running", running)
			if err := c.Stop(context.Background(), time.Second); err != nil {
				t.Fatal(err)
			}
			if st := c.State(); st.Phase != runtime.Terminated {
				t.Fatalf("after Stop: %+v", st)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, rs, is := fakeRuntime()
			if tc.setup != nil {
				tc.setup(rs, is)
			}
			sbCfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p", Namespace: "ns", Uid: "u"},
				Labels: map[string]string{LabelPodUID: "u"}, LogDirectory: t.TempDir()}
			sb, err := r.RunSandbox(context.Background(), sbCfg)
			if err != nil {
				t.Fatal(err)
			}
			spec := ContainerSpec{Name: "c", Image: "busybox:1.36", Sandbox: sb, RestartPolicy: runtime.RestartAlways,
				Config: func(*runtimeapi.Image) (*runtimeapi.ContainerConfig, error) {
					return &runtimeapi.ContainerConfig{Image: &runtimeapi.ImageSpec{Image: "busybox:1.36"}}, nil
				}}
			if tc.spec != nil {
				tc.spec(&spec)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := r.StartContainer(ctx, spec, nil)
			tc.run(t, rs, c)
			cancel()
			<-c.Done()
		})
	}
}
