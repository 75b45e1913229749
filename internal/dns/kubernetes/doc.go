// Package kubernetes holds the record model of the Kubernetes DNS
// specification: an index of Services, EndpointSlices and Namespaces kept
// current by informer event handlers, answering A, AAAA, SRV, PTR, CNAME,
// TXT and SOA questions for the cluster domain in constant time per name.
//
// Behaviour follows CoreDNS's kubernetes plugin with `pods insecure`:
// NXDOMAIN for names that do not exist, NOERROR with no answers (NODATA)
// for names that exist with other types, and the SOA in the authority
// section of both.
package kubernetes
