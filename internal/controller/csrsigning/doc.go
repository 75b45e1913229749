// Package csrsigning is kube-controller-manager's csrsigning controller
// for the cluster CA: it issues the certificate of every Approved (and
// neither Denied nor Failed) CertificateSigningRequest of the signers
//
//   - kubernetes.io/kube-apiserver-client-kubelet: a node's client
//     certificate (CN system:node:<name>, O exactly system:nodes, no
//     subject alternative names, client auth);
//   - kubernetes.io/kubelet-serving: a node's serving certificate (CN
//     system:node:<name>, O system:nodes, DNS or IP names only, server
//     auth);
//   - kubernetes.io/kube-apiserver-client: any client certificate.
//
// A request that breaks its signer's rules gets a Failed condition with
// reason SignerValidationFailure instead. Certificates are back-dated five
// minutes and live min(spec.expirationSeconds, Config.Duration), never
// past the CA itself. Every write goes through /status.
package csrsigning
