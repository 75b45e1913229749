// Package nodeproxy serves the pod subresources that live on a node
// (pods/log) by handing the request to that node's agent. Agents running
// in the same process register their handler; a pod on any other node
// gets a 503 naming the node until agents serve these over the network.
package nodeproxy
