package pod

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/registry"
)

// Strategy is the create/update strategy of pods. Its zero value admits
// pods without the ServiceAccount token volume.
type Strategy struct {
	cfg Config
}

var (
	_ registry.Strategy       = Strategy{}
	_ registry.StatusStrategy = StatusStrategy{}
)

// Default applies the pod defaults.
func (Strategy) Default(obj runtime.Object) { Default(obj.(*corev1.Pod)) }

// PrepareForCreate sets generation 1, a Pending status with the QoS class,
// the SchedulingGated condition for gated pods, and the admission defaults
// (the ServiceAccount token volume among them).
func (s Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	p := obj.(*corev1.Pod)
	p.Generation = 1
	admit(p)
	s.mountServiceAccountToken(ctx, p)
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(p)}
	if len(p.Spec.SchedulingGates) > 0 {
		setCondition(&p.Status, corev1.PodCondition{
			Type:    corev1.PodScheduled,
			Status:  corev1.ConditionFalse,
			Reason:  corev1.PodReasonSchedulingGated,
			Message: "Scheduling is blocked due to non-empty scheduling gates",
		})
	}
}

// PrepareForUpdate keeps the stored status and bumps generation when the
// spec changed.
func (Strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	p.Status = o.Status
	if !apiequality.Semantic.DeepEqual(p.Spec, o.Spec) {
		p.Generation = o.Generation + 1
	}
}

// Validate validates a new pod.
func (Strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidatePod(obj.(*corev1.Pod))
}

// ValidateUpdate validates a pod update.
func (Strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

// CheckGracefulDelete implements the API server's graceful deletion hook
// with GracefulDeletion.
func (Strategy) CheckGracefulDelete(_ context.Context, obj runtime.Object, opts *metav1.DeleteOptions) bool {
	return GracefulDeletion(obj.(*corev1.Pod), opts)
}

// StatusStrategy governs writes to pods/status (by node agents).
type StatusStrategy struct{}

// PrepareForUpdate keeps spec and owner references from old, and keeps the
// QoS class and observed generations the writer left empty.
func (StatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	p, o := obj.(*corev1.Pod), old.(*corev1.Pod)
	p.Spec = o.Spec
	p.OwnerReferences = o.OwnerReferences
	if p.Status.QOSClass == "" {
		p.Status.QOSClass = o.Status.QOSClass
	}
	if p.Status.ObservedGeneration == 0 {
		p.Status.ObservedGeneration = o.Status.ObservedGeneration
	}
	oldGens := map[corev1.PodConditionType][]int64{}
	for _, c := range o.Status.Conditions {
		oldGens[c.Type] = append(oldGens[c.Type], c.ObservedGeneration)
	}
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		var gen int64
		if gens := oldGens[c.Type]; len(gens) > 0 {
			gen, oldGens[c.Type] = gens[0], gens[1:]
		}
		if c.ObservedGeneration == 0 {
			c.ObservedGeneration = gen
		}
	}
}

// ValidateUpdate validates a status write.
func (StatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidatePodStatusUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}
