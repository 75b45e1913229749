// Package pki keeps svcnet's persistent public key infrastructure in a
// directory: a self-signed cluster CA, the API server's serving
// certificate, an admin client certificate, and the k3s-style join token
// that lets a node agent check the server's CA before it sends
// credentials (the server's secret, or a bootstrap token: see ParseJoinToken).
//
// Everything is created on first use and reused afterwards; the serving
// certificate is reissued when the wanted subject alternative names change
// or it nears expiry.
package pki
