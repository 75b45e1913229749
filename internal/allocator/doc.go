// Package allocator holds the band-aware bitmap shared by the ClusterIP and
// NodePort allocators. The bitmap is only a hint of what is taken: the
// authoritative record is the set of reservation keys in storage, written
// atomically with each Service. Sub-packages map addresses and ports onto
// bitmap offsets (ipallocator, portallocator) and reconcile reservations
// with the Services that hold them (repair).
package allocator
