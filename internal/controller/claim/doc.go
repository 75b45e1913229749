// Package claim is the adoption and release of dependents that the
// workload controllers share: a controller keeps the objects it controls
// that match its selector, releases those that stop matching and adopts
// matching orphans, each by a strategic merge patch of ownerReferences.
package claim
