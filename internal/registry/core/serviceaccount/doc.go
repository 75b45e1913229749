// Package serviceaccount describes the core/v1 serviceaccounts resource:
// its validation and the create/update strategy, which reduces secret
// references to their names as upstream does.
package serviceaccount
