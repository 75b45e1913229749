// Package ipallocator hands out ClusterIPs from one service CIDR. Each
// allocated address is recorded in storage as the reservation key
// KeyPrefix+<ip>, created in the same transaction as the Service that holds
// it; the Allocator's bitmap only remembers what is probably taken so that
// free candidates are found quickly, and is refreshed from storage.
//
// The reservation keys are networking.k8s.io/v1 IPAddress objects
// (IPAddresses, a storage.ReservationObjects): a Service's ClusterIP can be
// read, listed and watched as an IPAddress whose parentRef is the Service,
// and an IPAddress a client creates holds its address against Services.
// MigrateLegacy moves reservations of earlier releases (bare owner strings
// under LegacyKeyPrefix) there.
package ipallocator
