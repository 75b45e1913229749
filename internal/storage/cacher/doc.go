// Package cacher serves LIST from memory: a storage.Interface decorator
// that keeps, per configured resource prefix, every object decoded in a
// sorted slice, fed by one watch of the wrapped store, and answers GetList
// from it with kube-apiserver's semantics (its watch cache with consistent
// reads, KEP-2340). Everything else (Get, writes, Watch, Count,
// reservations) goes to the wrapped store.
//
// How GetList is answered, as kube-apiserver's cache delegator decides:
//
//   - resourceVersion "" (consistent read): the current revision R is read
//     from the store (a count-only etcd request), the cache waits until it
//     has applied every change up to R, and answers at its revision (R or
//     later). If it does not get there within Config.WaitTimeout, the
//     store answers.
//   - "0" (any): the cache answers as it is, ignoring the limit as
//     kube-apiserver does.
//   - N with NotOlderThan (or without a match and without a limit): the
//     cache waits until it reached N, else the store answers.
//   - Exact, N with a limit and no match (legacy exact paging), and any
//     continue token: the store answers, at the revision asked for.
//
// A page served from the cache ends with the continue token the store
// writes (storage.EncodeContinue) at the cache's revision, so the store
// answers the next page at that same revision. A cache that has not
// finished its first list, or whose watch broke, lets the store answer
// until it is current again.
//
// The cache learns where it stands from the watch: events, and bookmarks
// it asks for with storage.ProgressRequester when a read waits (the store
// sends them only once every earlier change was sent). Events of one
// revision are applied together, when a later revision or a bookmark shows
// that revision complete, so no read ever sees half of a transaction.
// Objects in the cache are never modified; GetList hands out deep copies,
// or with Config.ShareObjects copies of their top-level structs only.
package cacher
