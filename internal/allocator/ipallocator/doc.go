// Package ipallocator hands out ClusterIPs from one service CIDR. Each
// allocated address is recorded in storage as the reservation key
// KeyPrefix+<ip>, created in the same transaction as the Service that holds
// it; the Allocator's bitmap only remembers what is probably taken so that
// free candidates are found quickly, and is refreshed from storage.
package ipallocator
