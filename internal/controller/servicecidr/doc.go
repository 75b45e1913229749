// Package servicecidr is the ServiceCIDR controller, as
// kube-controller-manager runs it: every networking.k8s.io/v1 ServiceCIDR
// gets the networking.k8s.io/service-cidr-finalizer and the condition
// Ready=True; one being deleted keeps its finalizer (Ready=False, reason
// Terminating) while an IPAddress inside it is not also inside another
// ServiceCIDR that stays, so a range cannot go while ClusterIPs from it
// are in use.
package servicecidr
