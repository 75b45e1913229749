// Package scheduler assigns pending pods to nodes: a pod with no
// spec.nodeName whose schedulerName is default-scheduler is bound, through
// the pods/binding subresource, to a Ready, schedulable node whose taints
// it tolerates and whose labels match its nodeSelector and required node
// affinity and where none of its hostPorts is taken (same port and
// protocol on the same hostIP, 0.0.0.0 overlapping every address),
// preferring the node with the fewest pods of the same controller and then
// the fewest pods. Pods that fit nowhere get PodScheduled=False/
// Unschedulable and a FailedScheduling event, and are retried when nodes
// change or a pod holding hostPorts goes.
package scheduler
