// Package portforward serves the port-forward protocol of kubelet
// ("portforward.k8s.io"): a SPDY/3.1 connection, reached either by an
// HTTP upgrade or tunnelled in WebSocket binary messages (subprotocol
// "SPDY/3.1+portforward.k8s.io", what kubectl 1.31+ tries first), whose
// client opens an error and a data stream per forwarded TCP connection.
// Each data stream is spliced to a connection the caller's Dialer opens to
// the port in the pod.
package portforward
