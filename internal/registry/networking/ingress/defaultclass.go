package ingress

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

// Config configures the ingresses resource.
type Config struct {
	// IngressClasses, when set, lists the stored IngressClasses: a new
	// Ingress that names no class then gets the default one, as
	// kube-apiserver's DefaultIngressClass admission plugin does.
	IngressClasses func(ctx context.Context) ([]networkingv1.IngressClass, error)
}

// DefaultClassHooks names the default IngressClass in new Ingresses that
// name none (neither spec.ingressClassName nor the class annotation). The
// default is the class annotated ingressclass.kubernetes.io/is-default-class
// "true"; of several, the newest, and of equally new ones the first by
// name. Updates are left alone.
type DefaultClassHooks struct {
	classes func(ctx context.Context) ([]networkingv1.IngressClass, error)
}

var _ registry.Hooks = DefaultClassHooks{}

// BeforeCreate sets spec.ingressClassName to the default class, if any.
func (h DefaultClassHooks) BeforeCreate(ctx context.Context, obj runtime.Object) (storage.WriteOptions, error) {
	ing := obj.(*networkingv1.Ingress)
	if ing.Spec.IngressClassName != nil {
		return storage.WriteOptions{}, nil
	}
	if _, ok := ing.Annotations[ClassAnnotation]; ok {
		return storage.WriteOptions{}, nil
	}
	classes, err := h.classes(ctx)
	if err != nil {
		return storage.WriteOptions{}, apierrors.NewInternalError(fmt.Errorf("listing ingress classes: %w", err))
	}
	if name, ok := DefaultClass(classes); ok {
		ing.Spec.IngressClassName = &name
	}
	return storage.WriteOptions{}, nil
}

// DefaultClass picks the default of classes.
func DefaultClass(classes []networkingv1.IngressClass) (string, bool) {
	var best *networkingv1.IngressClass
	for i := range classes {
		c := &classes[i]
		if c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" {
			continue
		}
		switch {
		case best == nil,
			c.CreationTimestamp.After(best.CreationTimestamp.Time),
			c.CreationTimestamp.Equal(&best.CreationTimestamp) && c.Name < best.Name:
			best = c
		}
	}
	if best == nil {
		return "", false
	}
	return best.Name, true
}

// BeforeUpdate does nothing: the default applies on create only.
func (DefaultClassHooks) BeforeUpdate(context.Context, runtime.Object, runtime.Object) (storage.WriteOptions, error) {
	return storage.WriteOptions{}, nil
}

// BeforeDelete does nothing.
func (DefaultClassHooks) BeforeDelete(context.Context, runtime.Object) storage.WriteOptions {
	return storage.WriteOptions{}
}

// ReservationConflict is never called: ingresses reserve no keys.
func (DefaultClassHooks) ReservationConflict(_ runtime.Object, key string) error {
	return apierrors.NewInternalError(fmt.Errorf("ingress: unexpected reservation %s", key))
}
