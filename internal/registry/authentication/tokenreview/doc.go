// Package tokenreview serves authentication.k8s.io/v1 TokenReview: a
// create answers whether the bearer token in its spec authenticates, as
// whom and for which audiences; nothing is stored.
package tokenreview
