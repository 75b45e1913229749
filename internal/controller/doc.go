// Package controller holds what the controllers share: the description of
// the resources they watch. Each controller lives in its own sub-package
// and reaches state only through the API (client-go clients and informers).
package controller

import "k8s.io/apimachinery/pkg/runtime/schema"

// Resource names one served resource for controllers that work on every
// kind (garbage collection, namespace deletion).
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
}
