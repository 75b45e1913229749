// Package certificates holds what the certificates.k8s.io/v1 registry and
// the CSR controllers share about a CertificateSigningRequest: decoding its
// PEM request, reading its Approved/Denied/Failed conditions, and the rules
// the kubernetes.io signers put on a request (a kubelet's client
// certificate, a kubelet's serving certificate, an API client certificate).
package certificates
