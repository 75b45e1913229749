// Package volumes materialises a pod's volumes under the pod's directory in
// the agent's data dir (<pod dir>/volumes/kubernetes.io~<plugin>/<name>, as
// kubelet lays them out) and turns a container's volumeMounts into bind
// mounts for the runtime, which performs them in the container's private
// mount namespace.
//
// Supported sources: secret and configMap (all keys or items, defaultMode
// and per-item mode, optional), downwardAPI (fieldRef: metadata.name,
// namespace, uid, labels, annotations and single keys of both,
// spec.nodeName, spec.serviceAccountName; resourceFieldRef items are left
// out), projected (its secret, configMap and downwardAPI sources merged;
// serviceAccountToken and clusterTrustBundle sources are skipped, as svcnet
// issues no bound tokens), emptyDir (a directory, also for medium Memory)
// and hostPath (with upstream's type checks; the *OrCreate types create the
// path, as kubelet does).
//
// API data volumes are written atomically: each payload goes to a fresh
// timestamped directory, the ..data symlink is switched to it with one
// rename, and every visible entry is a symlink through ..data, so a
// container reading the volume sees either the old or the new content,
// never a mix. Setup is idempotent and rewrites only what changed, so
// calling it periodically (the agent does) brings Secret and ConfigMap
// updates to running containers; subPath mounts of such files keep the
// content they had at start, as upstream.
package volumes
