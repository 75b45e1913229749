package storage

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// Interface is a typed store of API objects keyed by path
// ("/registry/services/default/web"). Objects are encoded with the codec the
// implementation was built with; every object read back carries its
// metadata.resourceVersion set to the store revision of its last write.
type Interface interface {
	// Get reads the object at key into out. ErrNotFound if absent.
	Get(ctx context.Context, key string, out runtime.Object) error

	// GetList reads every object whose key starts with prefix (which must end
	// in "/") into listObj, a pointer to a *List type, filtered by
	// opts.Predicate, and sets the list's resourceVersion and continue token.
	GetList(ctx context.Context, prefix string, opts ListOptions, listObj runtime.Object) error

	// Create stores obj at key if nothing is there (ErrExists otherwise) and
	// decodes the stored object into out. The object must have an empty
	// resourceVersion. opts.Reserve keys are created in the same transaction.
	Create(ctx context.Context, key string, obj, out runtime.Object, opts WriteOptions) error

	// GuaranteedUpdate reads the object at key, calls tryUpdate with it and
	// writes the result with compare-and-swap on the revision, retrying
	// tryUpdate when another writer got there first. If the object the caller
	// sent carries a resourceVersion, tryUpdate must return ErrConflict when it
	// differs from the current one (upstream's optimistic concurrency).
	// When ignoreNotFound is true and the key is absent, tryUpdate is called
	// with a zero object (for create-on-update); otherwise ErrNotFound.
	// The reservations tryUpdate returns are applied in the same transaction.
	GuaranteedUpdate(ctx context.Context, key string, out runtime.Object, ignoreNotFound bool,
		preconditions *Preconditions, tryUpdate UpdateFunc) error

	// Delete removes the object at key after checking preconditions and
	// validate(current), decoding the last state into out. opts.Release keys
	// are deleted in the same transaction.
	Delete(ctx context.Context, key string, out runtime.Object, preconditions *Preconditions,
		validate func(current runtime.Object) error, opts WriteOptions) error

	// Watch streams changes below prefix (or of the single key when
	// opts.Recursive is false) that happen after opts.ResourceVersion.
	// See WatchOptions for initial events and bookmarks. A revision that the
	// store has compacted away gives ErrGone (HTTP 410).
	Watch(ctx context.Context, prefix string, opts WatchOptions) (watch.Interface, error)

	// Count returns how many keys exist below prefix.
	Count(ctx context.Context, prefix string) (int64, error)

	// CurrentRevision is the newest revision of the store.
	CurrentRevision(ctx context.Context) (int64, error)

	// Reservations lists the reservation keys below prefix with their owners
	// (used by allocator caches and repair loops), and the revision read.
	// Keys that are ReservationObjects report the owner their object stands
	// for.
	Reservations(ctx context.Context, prefix string) (map[string]string, int64, error)

	// Reserve creates the reservation key held by owner (the key of the
	// object that holds it). If the key exists, it fails with a
	// *ReservedError. Used by repair loops; normal writes reserve through
	// WriteOptions.
	Reserve(ctx context.Context, key, owner string) error

	// Release deletes the reservation key if it is held by owner, or by
	// anyone when owner is "". A missing key, or one held by another owner,
	// is not an error and is left alone.
	Release(ctx context.Context, key, owner string) error
}

// UpdateFunc computes the new state of an object from its current state.
// It returns the object to write (or an error to abort, passed through
// unchanged) plus the reservations to apply in the same transaction.
// Returning the same pointer unchanged is allowed; the write is then a no-op
// and the stored object is returned without a new revision.
type UpdateFunc func(current runtime.Object) (updated runtime.Object, opts WriteOptions, err error)

// Preconditions must hold for an update or delete to proceed.
type Preconditions struct {
	UID             *types.UID
	ResourceVersion *string
}

// WriteOptions carries the side effects of a write that must commit
// atomically with it.
type WriteOptions struct {
	// Reserve are keys that must not exist yet; they are created holding
	// the written object's key as owner. If any exists, the write fails with
	// ErrReserved naming the key and nothing is written.
	Reserve []string
	// Release are keys deleted with the write (missing keys are ignored).
	Release []string
	// TTL, when positive, makes the store delete the written object on its
	// own once TTL has passed since this write (kube-apiserver's
	// --event-ttl): it is rounded up to whole seconds, and the store may
	// keep the object a little longer (a few percent of TTL, at most a
	// minute) so that many objects can share one expiry. The deletion
	// reaches watchers as a DELETED event. Every write sets the TTL anew: a
	// write without one makes the object permanent. Reservation keys never
	// expire.
	TTL time.Duration
}

// ListOptions selects what GetList returns.
type ListOptions struct {
	// ResourceVersion "" = most recent (quorum read); "0" = any; otherwise
	// interpreted with ResourceVersionMatch like upstream.
	ResourceVersion      string
	ResourceVersionMatch string // "", "NotOlderThan", "Exact"
	// Limit and Continue paginate. Continue is the opaque token of a previous
	// page; an expired one gives ErrGone.
	Limit    int64
	Continue string
	// Predicate filters objects; nil matches everything. Pagination counts
	// only matching objects, as upstream does.
	Predicate func(obj runtime.Object) (bool, error)
}

// WatchOptions selects what Watch sends.
type WatchOptions struct {
	ResourceVersion string
	Recursive       bool
	Predicate       func(obj runtime.Object) (bool, error)
	// SendInitialEvents first sends an ADDED event for every existing object
	// (at ResourceVersion, or the newest revision when it is "" or "0"),
	// then, when AllowBookmarks, a BOOKMARK annotated
	// "k8s.io/initial-events-end": "true".
	SendInitialEvents bool
	// AllowBookmarks makes the watch send periodic BOOKMARK events carrying
	// only the current resourceVersion.
	AllowBookmarks bool
	// NewObject returns an empty object of the watched kind (for bookmarks).
	NewObject func() runtime.Object
}

// ProgressRequester is implemented by watches that can be asked where they
// have got to: after RequestProgress the watch sends (when it allows
// bookmarks) a BOOKMARK at a revision R such that every change up to R has
// already been sent. A cache fed by such a watch learns that it is current
// even when nothing below its prefix changes (kube-apiserver's
// RequestWatchProgress, used for consistent reads from its watch cache).
type ProgressRequester interface {
	RequestProgress(ctx context.Context) error
}

// ReservationObjects makes the reservation keys below one prefix full API
// objects rather than bare owner strings, so that clients can read, list
// and watch them through the API: ClusterIPs are networking.k8s.io/v1
// IPAddresses. Keys there keep every reservation guarantee (created in the
// writer's transaction, never twice), and an object a client stores under
// such a key through Create holds the key like a reservation.
type ReservationObjects interface {
	// Prefix is where such keys live; it ends in "/".
	Prefix() string
	// NewReservation returns the object to store for key, reserved by
	// owner (the key of the object holding it).
	NewReservation(key, owner string) (runtime.Object, error)
	// Empty returns an empty object of the stored type, to decode into.
	Empty() runtime.Object
	// Owner returns the owner that a stored object stands for. An object
	// a client wrote for something that is no stored object gives an owner
	// that is no storage key, which Release with an owner never matches.
	Owner(obj runtime.Object) string
}

// Transformer turns stored values into their at-rest form and back:
// encryption at rest. ToStorage may leave a value as it is (a resource
// not configured for encryption); FromStorage must recognise every form
// ToStorage ever wrote, and plain values.
type Transformer interface {
	ToStorage(key string, data []byte) ([]byte, error)
	FromStorage(key string, data []byte) ([]byte, error)
}
