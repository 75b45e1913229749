package registry

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Operation is what a write does to an object, as in upstream's
// admission.Attributes.
type Operation string

// The operations admission sees.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// AdmissionAttributes describe one write for the admission chain. The
// requesting user is in the context (authn.FromContext); a context without
// one is the server itself or an in-process test.
type AdmissionAttributes struct {
	Operation Operation
	Resource  schema.GroupVersionResource
	// Subresource is "" for the object itself, else "status", "binding",
	// "token", ...
	Subresource     string
	Namespace, Name string
	// Object is the object as it will be stored (for a create or update),
	// or the request object of a subresource create (a TokenRequest); nil
	// on delete. OldObject is the stored object (nil on create).
	Object, OldObject runtime.Object
	DryRun            bool
}

// AdmitFunc is the admission chain the API server runs after validation
// and before storing: a non-nil error (an API error such as 403 Forbidden)
// refuses the write. It must not change the objects.
type AdmitFunc func(ctx context.Context, a *AdmissionAttributes) error

// Admitters runs each non-nil AdmitFunc in order and stops at the first
// refusal.
func Admitters(fns ...AdmitFunc) AdmitFunc {
	return func(ctx context.Context, a *AdmissionAttributes) error {
		for _, f := range fns {
			if f == nil {
				continue
			}
			if err := f(ctx, a); err != nil {
				return err
			}
		}
		return nil
	}
}
