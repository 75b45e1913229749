// Package bootstraptoken authenticates bootstrap tokens, as
// kube-apiserver's --enable-bootstrap-token-auth does: a bearer token
// <id>.<secret> ([a-z0-9]{6}.[a-z0-9]{16}) is the user
// system:bootstrap:<id>, in group system:bootstrappers and the groups the
// Secret lists, when the Secret kube-system/bootstrap-token-<id> is of type
// bootstrap.kubernetes.io/token, holds that id and secret, is marked
// usage-bootstrap-authentication=true, is not being deleted and has not
// expired. A node agent joins with one and asks for its own client
// certificate (controller/csrapproving approves it).
package bootstraptoken
