// Package garbagecollector deletes objects whose owners are gone, as
// Kubernetes' garbage collector does: dependents of a deleted owner are
// removed (background propagation); owners deleted with the
// foregroundDeletion finalizer wait until their dependents are gone; owners
// deleted with the orphan finalizer release their dependents first.
//
// It watches the metadata of every resource and sweeps the owner graph
// when anything changes, coalescing bursts of events into one sweep.
package garbagecollector
