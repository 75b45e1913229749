package podtemplate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errStrings renders an error list as clients see it.
func errStrings(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func validSpec() corev1.PodSpec {
	s := corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}}
	DefaultPodSpec(&s)
	return s
}

func TestValidatePodSpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodSpec)
		opts   Options
		want   []string
	}{
		{name: "valid", mutate: func(*corev1.PodSpec) {}},
		{
			name:   "no containers",
			mutate: func(s *corev1.PodSpec) { s.Containers = nil },
			want:   []string{"spec.containers: Required value"},
		},
		{
			name:   "missing image",
			mutate: func(s *corev1.PodSpec) { s.Containers[0].Image = "" },
			want:   []string{"spec.containers[0].image: Required value"},
		},
		{
			name: "bad and duplicate container names",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Name = "Web"
				s.Containers = append(s.Containers, s.Containers[0])
			},
			want: []string{
				`spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`spec.containers[1].name: Invalid value: "Web": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`spec.containers[1].name: Duplicate value: "Web"`,
			},
		},
		{
			name: "ports",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Ports = []corev1.ContainerPort{
					{Name: "http", ContainerPort: 80, Protocol: corev1.ProtocolTCP},
					{Name: "http", ContainerPort: 70000, Protocol: corev1.ProtocolTCP},
					{Name: "this-name-is-too-long", ContainerPort: 0, Protocol: "ICMP"},
				}
			},
			want: []string{
				`spec.containers[0].ports[1].name: Duplicate value: "http"`,
				`spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive`,
				`spec.containers[0].ports[2].name: Invalid value: "this-name-is-too-long": must be no more than 15 characters`,
				`spec.containers[0].ports[2].containerPort: Required value`,
				`spec.containers[0].ports[2].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"`,
			},
		},
		{
			name: "host port conflict",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
				s.Containers = append(s.Containers, corev1.Container{Name: "b", Image: "x",
					Ports: []corev1.ContainerPort{{ContainerPort: 81, HostPort: 8080, Protocol: corev1.ProtocolTCP}}})
				DefaultContainer(&s.Containers[1])
			},
			want: []string{`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`},
		},
		{
			name:   "restart policy",
			mutate: func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" },
			want:   []string{`spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
		},
		{
			name:   "dns policy",
			mutate: func(s *corev1.PodSpec) { s.DNSPolicy = "Custom" },
			want:   []string{`spec.dnsPolicy: Unsupported value: "Custom": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"`},
		},
		{
			name:   "dns none without config",
			mutate: func(s *corev1.PodSpec) { s.DNSPolicy = corev1.DNSNone },
			want:   []string{"spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
		},
		{
			name: "probe with two handlers",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					Exec:      &corev1.ExecAction{Command: []string{"true"}},
					TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)},
				}}
				DefaultContainer(&s.Containers[0])
			},
			want: []string{"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"},
		},
		{
			name: "probe without handler and liveness success threshold",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].LivenessProbe = &corev1.Probe{SuccessThreshold: 2}
				DefaultContainer(&s.Containers[0])
			},
			want: []string{
				"spec.containers[0].livenessProbe: Required value: must specify a handler type",
				"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
			},
		},
		{
			name: "resources",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Resources = corev1.ResourceRequirements{
					Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), "gpu": resource.MustParse("1")},
				}
			},
			want: []string{
				`spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1`,
				`spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers`,
			},
		},
		{
			name: "negative quantity",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1")}
			},
			want: []string{`spec.containers[0].resources.limits[memory]: Invalid value: "-1": must be greater than or equal to 0`},
		},
		{
			name: "env names and sources",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].Env = []corev1.EnvVar{
					{Name: ""},
					{Name: "A=B"},
					{Name: "X", Value: "v", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}},
					{Name: "Y", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.bogus"}}},
				}
			},
			want: []string{
				"spec.containers[0].env[0].name: Required value",
				`spec.containers[0].env[1].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='`,
				`spec.containers[0].env[2].valueFrom: Invalid value: "": may not be specified when ` + "`value`" + ` is not empty`,
				`spec.containers[0].env[3].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.bogus": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"`,
			},
		},
		{
			name: "volumes and mounts",
			mutate: func(s *corev1.PodSpec) {
				s.Volumes = []corev1.Volume{
					{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
					{Name: "b", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
					{Name: "b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "c"},
					{Name: "c", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					{Name: "c", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				}
				s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "missing", MountPath: "/m"}, {Name: "b", MountPath: "/m"}}
			},
			want: []string{
				"spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
				"spec.volumes[1].secret.secretName: Required value",
				"spec.volumes[3]: Required value: must specify a volume type",
				`spec.volumes[5].name: Duplicate value: "c"`,
				`spec.containers[0].volumeMounts[0].name: Not found: "missing"`,
				`spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/m": must be unique`,
			},
		},
		{
			name: "extra volumes satisfy mounts",
			mutate: func(s *corev1.PodSpec) {
				s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
			},
			opts: Options{ExtraVolumes: []string{"data"}},
		},
		{
			name: "hostname and subdomain",
			mutate: func(s *corev1.PodSpec) {
				s.Hostname = "a.b"
				s.Subdomain = "-x"
			},
			want: []string{
				`spec.hostname: Invalid value: "a.b": must not contain dots`,
				`spec.subdomain: Invalid value: "-x": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
			},
		},
		{
			name: "host network on a pod needs hostPort == containerPort",
			mutate: func(s *corev1.PodSpec) {
				s.HostNetwork = true
				s.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
			},
			opts: Options{ResourceIsPod: true},
			want: []string{"spec.containers[0].ports[0].hostPort: Invalid value: 0: must match `containerPort` when `hostNetwork` is true"},
		},
		{
			name: "init container probes",
			mutate: func(s *corev1.PodSpec) {
				s.InitContainers = []corev1.Container{{Name: "web", Image: "busybox",
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}}}
				DefaultContainer(&s.InitContainers[0])
			},
			want: []string{
				`spec.initContainers[0].name: Duplicate value: "web"`,
				"spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
			},
		},
		{
			name: "tolerations",
			mutate: func(s *corev1.PodSpec) {
				secs := int64(5)
				s.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpEqual, TolerationSeconds: &secs}}
			},
			want: []string{
				"spec.tolerations[0].operator: Invalid value: \"Equal\": operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
				"spec.tolerations[0].effect: Invalid value: \"\": effect must be 'NoExecute' when `tolerationSeconds` is set",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := validSpec()
			tc.mutate(&s)
			got := errStrings(ValidatePodSpecWithOptions(&s, field.NewPath("spec"), tc.opts))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateReplicaSetTemplate(t *testing.T) {
	selector := labels.SelectorFromSet(labels.Set{"app": "web"})
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodTemplateSpec)
		want   []string
	}{
		{name: "valid", mutate: func(*corev1.PodTemplateSpec) {}},
		{
			name:   "labels do not match",
			mutate: func(p *corev1.PodTemplateSpec) { p.Labels = map[string]string{"app": "db"} },
			want:   []string{"spec.template.metadata.labels: Invalid value: {\"app\":\"db\"}: `selector` does not match template `labels`"},
		},
		{
			name: "restart policy and deadline",
			mutate: func(p *corev1.PodTemplateSpec) {
				p.Spec.RestartPolicy = corev1.RestartPolicyNever
				ads := int64(10)
				p.Spec.ActiveDeadlineSeconds = &ads
			},
			want: []string{
				`spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"`,
				"spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in ReplicaSet is not Supported",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := corev1.PodTemplateSpec{Spec: validSpec()}
			p.Labels = map[string]string{"app": "web"}
			tc.mutate(&p)
			got := errStrings(ValidateReplicaSetTemplate(&p, selector, field.NewPath("spec", "template")))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
