// Package kubeletapi is the node agent's HTTPS server on kubelet's port
// (10250): the API server reaches it for pods/log (/containerLogs),
// pods/exec (/exec) and pods/portforward (/portForward) of the node's pods,
// and nodes/proxy for /healthz, /pods (the node's pods as a v1 PodList) and
// /logs/ (a listing of the node's log directory), as kubelet serves them.
// Only clients presenting a certificate of the cluster CA for the API
// server's kubelet-client identity are served.
package kubeletapi
