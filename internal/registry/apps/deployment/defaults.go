package deployment

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

// Upstream's apps/v1 deployment defaults.
const (
	defaultReplicas                = int32(1)
	defaultRevisionHistoryLimit    = int32(10)
	defaultProgressDeadlineSeconds = int32(600)
	defaultMaxUnavailable          = "25%"
	defaultMaxSurge                = "25%"
)

// Default applies upstream's SetDefaults_Deployment and the pod template
// defaults. It is idempotent.
func Default(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		r := defaultReplicas
		d.Spec.Replicas = &r
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			v := intstr.FromString(defaultMaxUnavailable)
			s.RollingUpdate.MaxUnavailable = &v
		}
		if s.RollingUpdate.MaxSurge == nil {
			v := intstr.FromString(defaultMaxSurge)
			s.RollingUpdate.MaxSurge = &v
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		v := defaultRevisionHistoryLimit
		d.Spec.RevisionHistoryLimit = &v
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		v := defaultProgressDeadlineSeconds
		d.Spec.ProgressDeadlineSeconds = &v
	}
	podtemplate.DefaultPodTemplateSpec(&d.Spec.Template)
}
