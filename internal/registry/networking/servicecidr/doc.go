// Package servicecidr describes the cluster-scoped networking.k8s.io/v1
// servicecidrs resource with its /status subresource: upstream's
// validation (one or two CIDRs, at most one per IP family, immutable
// except for adding the second family to a single-family range) and the
// strategies that keep status out of spec writes and spec out of status
// writes. The server keeps the default ServiceCIDR, "kubernetes", equal
// to --service-cluster-ip-range (DefaultName).
package servicecidr
