// Package csr serves certificates.k8s.io/v1 CertificateSigningRequests,
// cluster-scoped, with upstream's validation and its three write paths:
//
//   - the object itself: a create records the requesting user in
//     spec.username, uid, groups and extra (left as sent when the request
//     carries no user) and starts with an empty status; an update never
//     changes spec or status (both are kept from the stored object, as
//     upstream does), only metadata;
//   - /approval (kubectl certificate approve|deny): only status.conditions
//     change, and only there may Approved or Denied be added;
//   - /status (the signer): status.certificate may be set once, to PEM
//     certificates, and conditions other than Approved and Denied change.
//
// No path may remove an Approved, Denied or Failed condition, and Approved
// and Denied exclude each other.
package csr
