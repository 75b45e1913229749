package registry

import (
	"context"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/storage"
)

// Resource describes one served resource (e.g. core/v1 services).
type Resource struct {
	Group        string // "" for core
	Version      string // "v1"
	Resource     string // plural, lower case: "services"
	Kind         string // "Service"
	ListKind     string // "ServiceList"
	SingularName string // "service"
	ShortNames   []string
	Categories   []string // "all" for the kinds upstream puts there
	Namespaced   bool
	// Verbs as in discovery: get, list, watch, create, update, patch, delete, deletecollection.
	Verbs []string
	// Deprecation, when set, is sent as a Warning header on every request
	// to the resource (as kube-apiserver does for v1 Endpoints since 1.33).
	Deprecation string

	New     func() runtime.Object
	NewList func() runtime.Object

	// Strategy defaults, prepares and validates objects of this resource.
	Strategy Strategy
	// StatusStrategy is non-nil when the resource has a /status subresource.
	StatusStrategy StatusStrategy
	// UpdateSubresources are further subresources that, like /status,
	// get, update and patch the whole object under a strategy of their
	// own, by name (certificatesigningrequests/approval).
	UpdateSubresources map[string]StatusStrategy
	// Scale is non-nil when the resource has a /scale subresource.
	Scale *ScaleAccessor
	// Hooks, when non-nil, run inside the write path (allocation).
	Hooks Hooks
	// TTL, when positive, is how long an object lives after its last
	// write: every create and update stores it with this TTL, and the
	// store deletes it once that has passed (kube-apiserver's --event-ttl
	// for events).
	TTL time.Duration
	// Connectors serve streaming subresources (pods/log) by name.
	Connectors map[string]Connector
	// Actions are POST-only subresources that change the stored object
	// (pods/binding), by subresource name.
	Actions map[string]Action
	// Review, when set, makes this a virtual resource (SelfSubjectReview):
	// a create answers with Review's result and nothing is stored; no
	// other verb is served. Strategy may then be nil.
	Review func(ctx context.Context, obj runtime.Object) (runtime.Object, error)
	// Creators are POST-only subresources that answer with an object of
	// their own and leave the stored object unchanged
	// (serviceaccounts/token), by subresource name.
	Creators map[string]Creator

	// Table converts an object or a list of this resource to a Table with
	// upstream's columns. nil means the default NAME/AGE table.
	Table TableFunc
	// Fields returns the field-selector set of an object: at least
	// metadata.name and (namespaced) metadata.namespace, plus the fields
	// upstream supports for this kind (spec.nodeName, status.phase, ...).
	Fields func(obj runtime.Object) fields.Set
}

// GroupVersionResource of r.
func (r *Resource) GroupVersionResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: r.Group, Version: r.Version, Resource: r.Resource}
}

// GroupVersionKind of r.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
}

// TableOptions are the printing options of a Table request.
// Rows always carry every column; columns upstream marks Priority 1
// (shown by kubectl only with -o wide) are marked the same way here.
type TableOptions struct {
	NoHeaders bool
}

// TableFunc builds the Table of obj, which is a single object or a list.
type TableFunc func(ctx context.Context, obj runtime.Object, opts TableOptions) (*metav1.Table, error)

// Strategy is what upstream calls a RESTCreateStrategy + RESTUpdateStrategy,
// working directly on the versioned (v1) types.
type Strategy interface {
	// Default applies upstream's defaulting (SetDefaults_*) for the kind.
	// It runs on every object decoded from a request body, before
	// PrepareForCreate/PrepareForUpdate, and must be idempotent.
	Default(obj runtime.Object)
	// PrepareForCreate clears fields the client may not set (usually status)
	// and sets generation.
	PrepareForCreate(ctx context.Context, obj runtime.Object)
	// PrepareForUpdate keeps fields the client may not change through the
	// main resource (usually status) from old, and bumps generation when
	// the spec changed.
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
	// Validate checks a new object, metadata included.
	Validate(ctx context.Context, obj runtime.Object) field.ErrorList
	// ValidateUpdate checks an update, metadata included.
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
}

// StatusStrategy governs writes to the /status subresource, or to one of
// Resource.UpdateSubresources.
type StatusStrategy interface {
	// PrepareForUpdate keeps everything but status (and metadata labels/
	// annotations, as upstream allows) from old.
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
}

// ScaleAccessor reads and writes the replica count behind /scale.
type ScaleAccessor struct {
	// Get returns spec.replicas, status.replicas and the label selector
	// string of obj.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// Set writes spec.replicas into obj.
	Set func(obj runtime.Object, replicas int32)
}

// Connector serves a streaming subresource of the stored object obj
// (pods/log: the container's output). It returns an API error (400, 404)
// before writing anything, or nil once it has answered.
type Connector func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error

// Action is a subresource that takes a request object (a Binding) and
// applies it to the stored object in one optimistic-concurrency update.
// kube-apiserver answers such writes with a Success Status (201).
type Action struct {
	// New returns an empty request object.
	New func() runtime.Object
	// Apply changes cur (a deep copy of the stored object) as req asks,
	// or returns an API error (409, 422) leaving it unchanged.
	Apply func(cur, req runtime.Object) error
}

// Creator is a subresource that takes a request object (a TokenRequest),
// reads the stored object it is posted to, and answers with a new object
// (the TokenRequest with its status filled in) without writing anything.
type Creator struct {
	// New returns an empty request object.
	New func() runtime.Object
	// GroupVersion is the API version of request and response.
	GroupVersion schema.GroupVersion
	// Create answers req for the stored object cur, or returns an API
	// error (422 for an invalid request).
	Create func(ctx context.Context, cur, req runtime.Object) (runtime.Object, error)
}

// Hooks run inside the storage write path so side effects (IP and port
// allocation) commit atomically with the object.
type Hooks interface {
	// BeforeCreate may fill fields of obj (an allocated clusterIP) and
	// returns the reservation keys to create with it.
	BeforeCreate(ctx context.Context, obj runtime.Object) (storage.WriteOptions, error)
	// BeforeUpdate does the same for an update from old to obj, returning
	// keys to reserve (new allocations) and to release (dropped ones).
	BeforeUpdate(ctx context.Context, obj, old runtime.Object) (storage.WriteOptions, error)
	// BeforeDelete returns the keys released with obj.
	BeforeDelete(ctx context.Context, obj runtime.Object) storage.WriteOptions
	// ReservationConflict is called when the write failed because key was
	// already reserved. It returns the error to give the client (e.g. 422
	// "provided IP is already allocated") or nil when the key had been
	// chosen dynamically and the write should be retried with a fresh
	// BeforeCreate/BeforeUpdate.
	ReservationConflict(obj runtime.Object, key string) error
}
