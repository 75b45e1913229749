// Package authn authenticates API requests the way kube-apiserver does
// for svcnet's two credential kinds: a client certificate verified
// against the cluster CA (user = CN, groups = O) and a static bearer token
// (the join token's secret, for node agents). Requests with neither get
// 401 with an Unauthorized metav1.Status, except the public health and
// version endpoints.
package authn
