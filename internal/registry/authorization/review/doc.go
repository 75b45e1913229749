// Package review serves the authorization.k8s.io/v1 reviews behind
// `kubectl auth can-i`: SelfSubjectAccessReview, SubjectAccessReview,
// LocalSubjectAccessReview and SelfSubjectRulesReview. Each create asks
// the API server's authz.Authorizer and answers without storing anything.
package review
