package pod

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// Config configures pod admission.
type Config struct {
	// ServiceAccount reads a pod's ServiceAccount for the token volume
	// admission; nil: no token volume is added.
	ServiceAccount func(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error)
}

// The API access volume the ServiceAccount admission plugin adds, as
// upstream lays it out.
const (
	// TokenMountPath is where containers find token, ca.crt and
	// namespace (client-go's in-cluster configuration reads them there).
	TokenMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	// tokenVolumePrefix starts the generated volume name.
	tokenVolumePrefix = "kube-api-access-"
	// tokenExpirationSeconds is upstream's odd 3607: an hour and a bit,
	// so the API server can tell these tokens from explicitly requested
	// ones.
	tokenExpirationSeconds = 3607
	// RootCAConfigMap is the ConfigMap of every namespace holding the
	// cluster CA (kube-root-ca.crt, key ca.crt).
	RootCAConfigMap = "kube-root-ca.crt"
	// RootCAKey is its key.
	RootCAKey = "ca.crt"
)

// mountServiceAccountToken adds the projected kube-api-access-<suffix>
// volume (token, ca.crt, namespace) and mounts it read-only at
// TokenMountPath in every container that mounts nothing there, unless
// the pod or, when the pod does not say, its ServiceAccount opts out with
// automountServiceAccountToken: false.
func (s Strategy) mountServiceAccountToken(ctx context.Context, p *corev1.Pod) {
	if s.cfg.ServiceAccount == nil || isMirror(p) {
		return
	}
	automount := p.Spec.AutomountServiceAccountToken
	if automount == nil {
		if sa, err := s.cfg.ServiceAccount(ctx, p.Namespace, p.Spec.ServiceAccountName); err == nil {
			automount = sa.AutomountServiceAccountToken
		}
	}
	if automount != nil && !*automount {
		return
	}
	name := ""
	for _, v := range p.Spec.Volumes {
		if strings.HasPrefix(v.Name, tokenVolumePrefix) && v.Projected != nil {
			name = v.Name // already admitted (an update or a copy of an admitted pod)
		}
	}
	added := false
	mount := func(c *corev1.Container) {
		for _, m := range c.VolumeMounts {
			if m.MountPath == TokenMountPath {
				return
			}
		}
		if name == "" {
			name = uniqueVolumeName(p.Spec.Volumes)
			added = true
		}
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: TokenMountPath})
	}
	for i := range p.Spec.InitContainers {
		mount(&p.Spec.InitContainers[i])
	}
	for i := range p.Spec.Containers {
		mount(&p.Spec.Containers[i])
	}
	if added {
		p.Spec.Volumes = append(p.Spec.Volumes, tokenVolume(name))
	}
}

func uniqueVolumeName(vols []corev1.Volume) string {
	for {
		name := tokenVolumePrefix + utilrand.String(5)
		taken := false
		for _, v := range vols {
			taken = taken || v.Name == name
		}
		if !taken {
			return name
		}
	}
}

// tokenVolume is the projected volume upstream's admission adds.
func tokenVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: new(int32(corev1.ProjectedVolumeSourceDefaultMode)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token",
				ExpirationSeconds: new(int64(tokenExpirationSeconds))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: RootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: RootCAKey, Path: RootCAKey}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}
