package node

import (
	"slices"
	"strings"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
)

// The identity of a node agent, as upstream's node identifier reads it.
const (
	// UserPrefix starts the user name of a node: system:node:<nodeName>.
	UserPrefix = "system:node:"
	// Group is the group every node belongs to.
	Group = "system:nodes"
)

// Identity returns the node name of u and whether u is a node at all: u
// is a node when its name starts with UserPrefix and it is in Group. A
// node may have an empty name (a user named exactly "system:node:"),
// which the authorizer and admission refuse.
func Identity(u authn.User) (name string, isNode bool) {
	name, ok := strings.CutPrefix(u.Name, UserPrefix)
	if !ok || !slices.Contains(u.Groups, Group) {
		return "", false
	}
	return name, true
}
