// Package satoken issues and validates ServiceAccount tokens: JWTs signed
// by the cluster's service account key (ES256), with kube-apiserver's
// claims (iss, sub, aud, exp, iat, nbf, jti and the private
// "kubernetes.io" claim naming the namespace, the ServiceAccount and the
// object the token is bound to). A token is valid while its signature,
// issuer, audience and lifetime check out and the ServiceAccount (and the
// Pod, Secret or Node it is bound to) still exists with the same UID.
package satoken
