// Package nodeaffinity decides whether a pod's spec.nodeSelector and
// required node affinity admit a node, with upstream's semantics: node
// selector terms are ORed, the requirements of a term ANDed, a term with
// no requirement matches nothing, and matchFields knows only
// metadata.name. The scheduler filters nodes with it and the DaemonSet
// controller decides where its pods belong.
package nodeaffinity
