package noderestriction

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	nodeauthz "github.com/svcnet/svcnet/internal/apiserver/authz/node"
	"github.com/svcnet/svcnet/internal/registry"
)

// Config configures NodeRestriction.
type Config struct {
	// GetPod reads a pod by namespace and name: the API server's storage
	// (satoken.Lookup's Pod) or a lister. A missing pod is an error that
	// apierrors.IsNotFound recognises. Token requests (and evictions
	// admitted without the stored pod) read the pod they name; with
	// GetPod nil they are refused.
	GetPod func(ctx context.Context, namespace, name string) (*corev1.Pod, error)
}

// plugin holds the configuration of one admission chain entry.
type plugin struct {
	cfg Config
}

// New returns the NodeRestriction admission function.
func New(cfg Config) registry.AdmitFunc {
	p := &plugin{cfg: cfg}
	return p.admit
}

func (p *plugin) admit(ctx context.Context, a *registry.AdmissionAttributes) error {
	u, ok := authn.FromContext(ctx)
	if !ok {
		return nil
	}
	node, isNode := nodeauthz.Identity(u)
	if !isNode {
		return nil
	}
	if node == "" {
		return forbidden(a, "could not determine node from user %q", u.Name)
	}
	switch a.Resource.GroupResource() {
	case corev1.Resource("pods"):
		switch a.Subresource {
		case "":
			return p.admitPod(ctx, node, a)
		case "status":
			return admitPodStatus(node, a)
		case "eviction":
			return p.admitEviction(ctx, node, a)
		default:
			return forbidden(a, "unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource)
		}
	case corev1.Resource("nodes"):
		return admitNode(node, a)
	case corev1.Resource("serviceaccounts"):
		return p.admitServiceAccount(ctx, node, a)
	case schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		return admitLease(node, a)
	case schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
		return admitEndpointSlice(node, a)
	}
	return nil
}

// forbidden refuses a with a 403 naming its resource and object, as
// upstream's admission.NewForbidden does.
func forbidden(a *registry.AdmissionAttributes, format string, args ...any) error {
	return apierrors.NewForbidden(a.Resource.GroupResource(), objectName(a), fmt.Errorf(format, args...))
}

// unexpectedType refuses a request whose object is not what the resource
// stores.
func unexpectedType(a *registry.AdmissionAttributes, obj runtime.Object) error {
	return forbidden(a, "unexpected type %T", obj)
}

// objectName is the name of the object a writes: the request's, else the
// object's (a create names no object in its URL), else its generateName.
func objectName(a *registry.AdmissionAttributes) string {
	if a.Name != "" {
		return a.Name
	}
	for _, o := range []runtime.Object{a.Object, a.OldObject} {
		if o == nil {
			continue
		}
		if acc, err := meta.Accessor(o); err == nil {
			if acc.GetName() != "" {
				return acc.GetName()
			}
			if acc.GetGenerateName() != "" {
				return acc.GetGenerateName()
			}
		}
	}
	return ""
}

// stored returns the namespace and name of the stored object a writes
// (for a subresource create, the object at its URL), falling back to
// those of the request.
func stored(a *registry.AdmissionAttributes) (namespace, name string) {
	if a.OldObject != nil {
		if acc, err := meta.Accessor(a.OldObject); err == nil && acc.GetName() != "" {
			return acc.GetNamespace(), acc.GetName()
		}
	}
	return a.Namespace, a.Name
}
