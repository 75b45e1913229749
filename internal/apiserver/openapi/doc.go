// Package openapi serves OpenAPI v3 documents for the resources svcnet
// serves, shaped like kube-apiserver's: an index at /openapi/v3 pointing
// at one immutable, hash-addressed document per group-version, with the
// paths and operations of every resource (x-kubernetes-action,
// x-kubernetes-group-version-kind, and the PATCH parameters kubectl's
// --validate=strict looks for) and component schemas reflected from the
// Go types in the scheme (patch strategies, list types, group-version-kinds)
// so that kubectl apply and kubectl explain can use them.
//
// /openapi/v2 is not served (404); kubectl copes with that.
package openapi
