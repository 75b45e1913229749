package cri

import (
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestVerifyNonRoot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		user    *int64
		img     *runtimeapi.Image
		wantErr string
	}{
		{"runAsUser non-root", ptr.To[int64](1000), nil, ""},
		{"runAsUser root", ptr.To[int64](0), nil, "breaks non-root policy"},
		{"image uid root", nil, &runtimeapi.Image{Uid: &runtimeapi.Int64Value{Value: 0}}, "will run as root"},
		{"image uid 65534", nil, &runtimeapi.Image{Uid: &runtimeapi.Int64Value{Value: 65534}}, ""},
		{"image no user", nil, &runtimeapi.Image{}, "will run as root"},
		{"image user root", nil, &runtimeapi.Image{Username: "root"}, "will run as root"},
		{"image numeric user", nil, &runtimeapi.Image{Username: "1000:1000"}, ""},
		{"image named user", nil, &runtimeapi.Image{Username: "nginx"}, "non-numeric user (nginx)"},
		{"unknown image", nil, nil, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := verifyNonRoot(tc.user, tc.img)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("verifyNonRoot = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestResources(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		req, lim              v1.ResourceList
		shares, quota, memory int64
	}{
		{"none", nil, nil, 2, 0, 0},
		{"cpu request", v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")}, nil, 256, 0, 0},
		{"cpu limit only", nil, v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m")}, 512, 50000, 0},
		{"memory limit", nil, v1.ResourceList{v1.ResourceMemory: resource.MustParse("32Mi")}, 2, 0, 32 << 20},
		{"tiny cpu limit", nil, v1.ResourceList{v1.ResourceCPU: resource.MustParse("1m")}, 2, 1000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := resources(&v1.Container{Resources: v1.ResourceRequirements{Requests: tc.req, Limits: tc.lim}})
			if r.CpuShares != tc.shares || r.CpuQuota != tc.quota || r.MemoryLimitInBytes != tc.memory {
				t.Fatalf("resources = shares %d quota %d memory %d, want %d %d %d", r.CpuShares, r.CpuQuota,
					r.MemoryLimitInBytes, tc.shares, tc.quota, tc.memory)
			}
		})
	}
}

func TestContainerConfigSecurity(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
		Spec: v1.PodSpec{SecurityContext: &v1.PodSecurityContext{RunAsUser: ptr.To[int64](1000),
			FSGroup: ptr.To[int64](2000), SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}}}}
	for _, tc := range []struct {
		name  string
		sc    *v1.SecurityContext
		check func(*runtimeapi.LinuxContainerSecurityContext) string
	}{
		{"pod defaults", nil, func(sc *runtimeapi.LinuxContainerSecurityContext) string {
			if sc.RunAsUser.GetValue() != 1000 || len(sc.SupplementalGroups) != 1 || sc.SupplementalGroups[0] != 2000 {
				return "pod's runAsUser and fsGroup not applied"
			}
			if sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault {
				return "seccomp RuntimeDefault not applied"
			}
			if len(sc.MaskedPaths) == 0 {
				return "no masked paths"
			}
			return ""
		}},
		{"container wins", &v1.SecurityContext{RunAsUser: ptr.To[int64](7), ReadOnlyRootFilesystem: ptr.To(true),
			AllowPrivilegeEscalation: ptr.To(false), Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET_ADMIN"},
				Drop: []v1.Capability{"ALL"}}}, func(sc *runtimeapi.LinuxContainerSecurityContext) string {
			if sc.RunAsUser.GetValue() != 7 || !sc.ReadonlyRootfs || !sc.NoNewPrivs {
				return "container's settings not applied"
			}
			if sc.Capabilities.AddCapabilities[0] != "CAP_NET_ADMIN" || sc.Capabilities.DropCapabilities[0] != "ALL" {
				return "capabilities not named as the runtime wants them"
			}
			return ""
		}},
		{"privileged", &v1.SecurityContext{Privileged: ptr.To(true)}, func(sc *runtimeapi.LinuxContainerSecurityContext) string {
			if !sc.Privileged || len(sc.MaskedPaths) != 0 {
				return "privileged container masked"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &v1.Container{Name: "c", Image: "busybox", SecurityContext: tc.sc}
			cfg, err := ContainerConfig(ContainerInput{Pod: pod, Container: c, Env: []string{"A=b=c"}})
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(cfg.Linux.SecurityContext); msg != "" {
				t.Fatal(msg)
			}
			if string(cfg.Envs[0].Value) != "b=c" {
				t.Fatalf("env = %v", cfg.Envs)
			}
		})
	}
}

func TestSandboxConfig(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", Labels: map[string]string{"app": "x"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Ports: []v1.ContainerPort{
			{ContainerPort: 80, HostPort: 8080, Protocol: v1.ProtocolTCP},
			{ContainerPort: 53, HostPort: 5353, Protocol: v1.ProtocolUDP},
			{ContainerPort: 9000},
		}}}}}
	cfg := SandboxConfig(SandboxInput{Pod: pod, Hostname: "p", LogDir: "/logs"})
	if len(cfg.PortMappings) != 2 || cfg.PortMappings[1].Protocol != runtimeapi.Protocol_UDP || cfg.PortMappings[0].HostPort != 8080 {
		t.Fatalf("port mappings = %v", cfg.PortMappings)
	}
	if cfg.Labels["app"] != "x" || cfg.Labels[LabelPodUID] != "u" || cfg.Hostname != "p" {
		t.Fatalf("labels/hostname = %v %q", cfg.Labels, cfg.Hostname)
	}
	pod.Spec.HostNetwork = true
	cfg = SandboxConfig(SandboxInput{Pod: pod, Hostname: "p"})
	if cfg.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE || cfg.Hostname != "" {
		t.Fatalf("hostNetwork sandbox = %v", cfg)
	}
}

func TestAuths(t *testing.T) {
	a := Auths{}
	err := a.AddSecret(&v1.Secret{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{
		v1.DockerConfigJsonKey: []byte(`{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"reg.example:5000":{"username":"a","password":"b"}}}`)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ image, user, pass string }{
		{"nginx", "u", "p"},
		{"docker.io/library/nginx:1.27", "u", "p"},
		{"reg.example:5000/app:v1", "a", "b"},
		{"registry.k8s.io/pause:3.10", "", ""},
	} {
		got := a.imageFor(tc.image)
		if got.GetUsername() != tc.user || got.GetPassword() != tc.pass {
			t.Errorf("imageFor(%s) = %v, want %s:%s", tc.image, got, tc.user, tc.pass)
		}
	}
	if err := a.AddSecret(&v1.Secret{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte("{")}}); err == nil {
		t.Error("malformed secret accepted")
	}
}
