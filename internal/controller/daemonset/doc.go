// Package daemonset is the DaemonSet controller: it keeps one pod of each
// DaemonSet on every node its template admits (nodeSelector, required
// node affinity, taints it tolerates), as upstream's controller does.
//
// A node qualifies when the template's pod, with the tolerations every
// daemon pod gets (not-ready and unreachable NoExecute; disk-, memory- and
// pid-pressure, unschedulable and, with hostNetwork, network-unavailable
// NoSchedule), matches it and tolerates its NoSchedule and NoExecute
// taints; an existing pod stays while its NoExecute taints are tolerated.
// Pods are created without a node and bound by the scheduler through the
// required node affinity `matchFields metadata.name In [node]` that
// replaces the template's, labelled controller-revision-hash and
// pod-template-generation and controlled by the DaemonSet (the garbage
// collector removes them with it).
//
// Pods on nodes that no longer qualify are deleted; so are pods whose node
// is gone (force-deleted when bound, as upstream's pod GC does, since no
// agent is left to finish them), succeeded pods, and failed pods, the
// last with a per-node back-off (1 s doubling to 15 min) so a pod that
// keeps failing is not replaced in a hot loop. Each distinct template is a
// ControllerRevision (data: the patch `kubectl rollout undo` applies);
// RollingUpdate replaces old pods at most maxUnavailable at a time
// (counting pods that are unavailable anyway), or with maxSurge starts the
// new pod first and deletes the old one once the new one is available;
// OnDelete replaces a pod only when it is deleted. Expectations keep a
// sync from acting again before the informer shows its own writes.
package daemonset
