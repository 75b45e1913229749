// Package proxytest holds the packet-flow table every proxy backend runs:
// one set of Services and EndpointSlices, and per packet the outcome every
// backend must produce, so the backends cannot drift apart.
package proxytest
