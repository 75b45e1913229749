// Package selfsubjectreview serves authentication.k8s.io/v1
// SelfSubjectReview (`kubectl auth whoami`): a create answers with the
// caller's own user name and groups as the API server authenticated them;
// nothing is stored.
package selfsubjectreview
