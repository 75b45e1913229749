// Package storage defines the contract between the API server and the
// key-value store that holds every object: typed get/list/create/update/
// delete/watch over keys, resourceVersions taken from the store's revision,
// and atomic key reservations used by the allocators.
//
// Implementations live in sub-packages (storage/etcd3). Errors are the
// sentinel values in errors.go, tested with the IsX predicates; the API
// server turns them into metav1.Status in exactly one place.
package storage
