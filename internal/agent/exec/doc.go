// Package exec is the server side of the Kubernetes remote command
// protocol over WebSockets (v5.channel.k8s.io and v4.channel.k8s.io), the
// one kubectl exec speaks first: binary messages whose first byte names
// the channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize, 255 close),
// ending with a metav1.Status on the error channel and a normal closure.
// It knows nothing of pods or processes: the caller runs the command.
package exec
