// Package portallocator hands out NodePorts (and healthCheckNodePorts) from
// the --service-node-port-range. Each allocated port is recorded in storage
// as the reservation key KeyPrefix+<port>, one key per port number whatever
// the protocol, created in the same transaction as the Service holding it;
// the Allocator's bitmap is a hint refreshed from storage.
package portallocator
