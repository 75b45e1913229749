package satoken

import (
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Names of the identities tokens carry, as upstream's serviceaccount
// package spells them.
const (
	// UserPrefix starts the user name of a service account:
	// system:serviceaccount:<namespace>:<name>.
	UserPrefix = "system:serviceaccount:"
	// AllGroup holds every service account; AllGroup + ":" + namespace
	// those of one namespace.
	AllGroup = "system:serviceaccounts"
)

// UserName returns the user name of the service account ns/name.
func UserName(ns, name string) string { return UserPrefix + ns + ":" + name }

// SplitUserName returns the namespace and name of a service account user
// name, or false when user is no service account's.
func SplitUserName(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, UserPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, ":")
}

// Groups returns the groups of a service account of namespace ns.
func Groups(ns string) []string { return []string{AllGroup, AllGroup + ":" + ns} }

// Ref names an object by name and UID.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Private is the "kubernetes.io" claim.
type Private struct {
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount *Ref   `json:"serviceaccount,omitempty"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	// WarnAfter is set on tokens whose lifetime was extended for legacy
	// clients; svcnet never extends, so it stays empty.
	WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
}

// Claims are the claims of a ServiceAccount token.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes Private `json:"kubernetes.io"`
}
