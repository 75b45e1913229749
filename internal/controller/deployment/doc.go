// Package deployment is the Deployment controller: it keeps one
// ReplicaSet per pod template (named "<deployment>-<pod-template-hash>"),
// rolls pods from old ReplicaSets to the new one with the RollingUpdate
// (maxSurge/maxUnavailable) or Recreate strategy, scales them
// proportionally, keeps the revision annotations kubectl's rollout
// commands read, prunes old ReplicaSets past revisionHistoryLimit and
// writes the Deployment's status and Available/Progressing conditions.
package deployment
