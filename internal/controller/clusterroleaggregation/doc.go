// Package clusterroleaggregation is the ClusterRole aggregation
// controller, as kube-controller-manager runs it: the rules of a
// ClusterRole with an aggregationRule are the union of the rules of every
// other ClusterRole its selectors match, so admin, edit and view grow as
// ClusterRoles labelled aggregate-to-admin/edit/view appear, change or go.
package clusterroleaggregation
