package statefulset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

// Resource describes apps/v1 statefulsets as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          "apps",
		Version:        "v1",
		Resource:       "statefulsets",
		Kind:           "StatefulSet",
		ListKind:       "StatefulSetList",
		SingularName:   "statefulset",
		ShortNames:     []string{"sts"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:        func() runtime.Object { return &appsv1.StatefulSetList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Scale: &registry.ScaleAccessor{
			Get: func(obj runtime.Object) (int32, int32, string) {
				s := obj.(*appsv1.StatefulSet)
				return replicas(s.Spec.Replicas), s.Status.Replicas, selectorString(s.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
		Fields: func(obj runtime.Object) fields.Set {
			s := obj.(*appsv1.StatefulSet)
			return fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace}
		},
	}
}

// Default applies upstream's SetDefaults_StatefulSet, the pod template
// defaults and the defaults of the embedded claim templates.
func Default(s *appsv1.StatefulSet) {
	spec := &s.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if spec.UpdateStrategy.Type == "" {
		spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if spec.UpdateStrategy.RollingUpdate == nil {
			spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if ru := spec.UpdateStrategy.RollingUpdate; spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		ru != nil && ru.Partition == nil {
		zero := int32(0)
		ru.Partition = &zero
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		one := int32(1)
		spec.Replicas = &one
	}
	if spec.RevisionHistoryLimit == nil {
		ten := int32(10)
		spec.RevisionHistoryLimit = &ten
	}
	podtemplate.DefaultPodTemplateSpec(&spec.Template)
	for i := range spec.VolumeClaimTemplates {
		pvc := &spec.VolumeClaimTemplates[i]
		if pvc.Spec.VolumeMode == nil {
			mode := corev1.PersistentVolumeFilesystem
			pvc.Spec.VolumeMode = &mode
		}
		if pvc.Status.Phase == "" {
			pvc.Status.Phase = corev1.ClaimPending
		}
	}
}

// Strategy is the create/update strategy of stateful sets.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies the stateful set defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*appsv1.StatefulSet)) }

// PrepareForCreate clears status and sets generation 1.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	s := obj.(*appsv1.StatefulSet)
	s.Status = appsv1.StatefulSetStatus{}
	s.Generation = 1
}

// PrepareForUpdate keeps status and bumps generation when the spec changed.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	s, o := obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet)
	s.Status = o.Status
	if !apiequality.Semantic.DeepEqual(s.Spec, o.Spec) {
		s.Generation = o.Generation + 1
	}
}

// Validate validates a new stateful set.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateStatefulSet(obj.(*appsv1.StatefulSet))
}

// ValidateUpdate validates a stateful set update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateStatefulSetUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
}

// StatusStrategy governs writes to statefulsets/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps the spec from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*appsv1.StatefulSet).Spec = old.(*appsv1.StatefulSet).Spec
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateStatefulSetStatusUpdate(obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
}

func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}

func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return ""
	}
	return s.String()
}
