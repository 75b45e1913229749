// Package podendpoint holds the rules that decide whether and how a Pod
// backs a Service: readiness, terminal phases, named target ports, the
// hostname rule, and which Services a Pod event concerns. The EndpointSlice
// and Endpoints controllers share them so both publish the same pods.
package podendpoint
