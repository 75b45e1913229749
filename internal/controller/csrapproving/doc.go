// Package csrapproving approves, as kube-controller-manager's csrapproving
// controller does, the CertificateSigningRequests of node client
// certificates (signer kubernetes.io/kube-apiserver-client-kubelet, a
// request that meets that signer's rules) whose requester is allowed, by
// the Authorizer, to
//
//   - create certificatesigningrequests/selfnodeclient, when the requester
//     is the node the certificate names (a renewal), or
//   - create certificatesigningrequests/nodeclient (a bootstrap token's
//     first certificate).
//
// As svcnet's own addition (k3s issues kubelet serving certificates
// itself, without an approval step), it also approves
// kubernetes.io/kubelet-serving requests that meet that signer's rules,
// come from the node they name (user system:node:<n> in group
// system:nodes, common name system:node:<n>) and whose DNS and IP
// subject alternative names are all addresses of Node <n>
// (status.addresses). kube-controller-manager never approves serving
// certificates, leaving them to an administrator or an external approver.
//
// It never denies: a request it does not recognise or may not approve is
// left pending for someone else. Approval adds the condition Approved with
// reason AutoApproved through /approval.
package csrapproving
