package daemonset

import (
	"context"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/registry/core/podtemplate"
)

// TemplateGenerationAnnotation carries the deprecated templateGeneration of
// an apps/v1 DaemonSet.
const TemplateGenerationAnnotation = appsv1.DeprecatedTemplateGeneration

// Resource describes apps/v1 daemonsets as upstream's discovery does.
func Resource() registry.Resource {
	return registry.Resource{
		Group:          "apps",
		Version:        "v1",
		Resource:       "daemonsets",
		Kind:           "DaemonSet",
		ListKind:       "DaemonSetList",
		SingularName:   "daemonset",
		ShortNames:     []string{"ds"},
		Categories:     []string{"all"},
		Namespaced:     true,
		Verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		New:            func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:        func() runtime.Object { return &appsv1.DaemonSetList{} },
		Strategy:       Strategy{},
		StatusStrategy: StatusStrategy{},
		Fields: func(obj runtime.Object) fields.Set {
			ds := obj.(*appsv1.DaemonSet)
			return fields.Set{"metadata.name": ds.Name, "metadata.namespace": ds.Namespace}
		},
	}
}

// Default applies upstream's SetDefaults_DaemonSet and the pod template
// defaults.
func Default(ds *appsv1.DaemonSet) {
	us := &ds.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			one := intstr.FromInt32(1)
			us.RollingUpdate.MaxUnavailable = &one
		}
		if us.RollingUpdate.MaxSurge == nil {
			zero := intstr.FromInt32(0)
			us.RollingUpdate.MaxSurge = &zero
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ten := int32(10)
		ds.Spec.RevisionHistoryLimit = &ten
	}
	podtemplate.DefaultPodTemplateSpec(&ds.Spec.Template)
}

// TemplateGeneration returns the deprecated templateGeneration of ds: the
// value of its annotation, 0 when it is missing, an error when it is not
// an integer.
func TemplateGeneration(ds *appsv1.DaemonSet) (int64, error) {
	v, ok := ds.Annotations[TemplateGenerationAnnotation]
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(v, 10, 64)
}

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[TemplateGenerationAnnotation] = strconv.FormatInt(gen, 10)
}

// Strategy is the create/update strategy of daemon sets.
type Strategy struct{}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies the daemon set defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*appsv1.DaemonSet)) }

// PrepareForCreate clears status, sets generation 1 and a templateGeneration
// of at least 1. An annotation that is no integer is left for Validate to
// reject.
func (Strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	ds := obj.(*appsv1.DaemonSet)
	ds.Status = appsv1.DaemonSetStatus{}
	ds.Generation = 1
	if gen, err := TemplateGeneration(ds); err == nil && gen < 1 {
		setTemplateGeneration(ds, 1)
	}
}

// PrepareForUpdate keeps status and the stored templateGeneration; a
// changed template raises templateGeneration and generation, another
// change of the spec generation only.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
	ds.Status = o.Status
	gen, _ := TemplateGeneration(o)
	switch {
	case !apiequality.Semantic.DeepEqual(ds.Spec.Template, o.Spec.Template):
		gen++
		ds.Generation = o.Generation + 1
	case !apiequality.Semantic.DeepEqual(ds.Spec, o.Spec):
		ds.Generation = o.Generation + 1
	}
	setTemplateGeneration(ds, gen)
}

// Validate validates a new daemon set.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateDaemonSet(obj.(*appsv1.DaemonSet))
}

// ValidateUpdate validates a daemon set update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateDaemonSetUpdate(obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet))
}

// StatusStrategy governs writes to daemonsets/status.
type StatusStrategy struct{}

// PrepareForUpdate keeps the spec, and with it the templateGeneration
// annotation, from old.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	ds, o := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
	ds.Spec = o.Spec
	if v, ok := o.Annotations[TemplateGenerationAnnotation]; ok {
		if ds.Annotations == nil {
			ds.Annotations = map[string]string{}
		}
		ds.Annotations[TemplateGenerationAnnotation] = v
	} else {
		delete(ds.Annotations, TemplateGenerationAnnotation)
	}
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateDaemonSetStatusUpdate(obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet))
}
