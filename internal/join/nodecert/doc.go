// Package nodecert gives an agent its own identity: a client certificate
// for system:node:<name> (group system:nodes) and a kubelet serving
// certificate, both from the cluster CA through CertificateSigningRequests
// as kubelet's TLS bootstrapping gets them. The join token is used only
// when no valid client certificate is stored: it creates the first CSR
// (approved for system:bootstrappers); renewals are requested with the
// node's own certificate before it expires. client-go's certificate
// manager rotates both; the files live in the agent's data dir as
// kubelet's kubelet-client-current.pem and kubelet-server-current.pem.
package nodecert
