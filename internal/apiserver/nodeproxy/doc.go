// Package nodeproxy serves the pod subresources that live on a node
// (pods/log, pods/exec, pods/portforward), and nodes/proxy, by handing the
// request to that node's agent, as kube-apiserver does with kubelet: an agent running in
// this process serves it directly; any other is reached over HTTPS at the
// Node's address and kubelet port with the API server's kubelet-client
// certificate, upgraded connections (exec, port-forward) proxied both ways.
package nodeproxy
