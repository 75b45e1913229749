package rest

import (
	"net/http"
	"strings"
)

// RequestInfo is what the URL of a resource request names.
type RequestInfo struct {
	// IsResource is false for non-resource paths (/healthz, /version, ...).
	IsResource  bool
	Group       string
	Version     string
	Namespace   string
	Resource    string
	Name        string
	Subresource string
	// Verb is get, list, watch, create, update, patch, delete,
	// deletecollection or connect (subresources like log and exec).
	Verb string
}

// ParseRequestInfo reads the resource a request is about from its path:
// /api/v1/..., /apis/<group>/<version>/... with optional
// namespaces/<ns>/ segments, a name and a subresource.
func ParseRequestInfo(r *http.Request) RequestInfo {
	parts := splitPath(r.URL.Path)
	var info RequestInfo
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		info.Version = parts[1]
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		info.Group, info.Version = parts[1], parts[2]
		parts = parts[3:]
	default:
		return info
	}
	if len(parts) == 0 {
		return info
	}
	info.IsResource = true
	// namespaces/<ns>/<resource>... ; but namespaces/<ns> alone (or with a
	// subresource such as status/finalize) is the namespace object itself.
	if parts[0] == "namespaces" && len(parts) >= 3 && parts[2] != "status" && parts[2] != "finalize" {
		info.Namespace = parts[1]
		parts = parts[2:]
	}
	info.Resource = parts[0]
	if len(parts) >= 2 {
		info.Name = parts[1]
	}
	if len(parts) >= 3 {
		info.Subresource = strings.Join(parts[2:], "/")
	}
	watch := r.URL.Query().Get("watch")
	isWatch := watch == "true" || watch == "1"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			info.Verb = "watch"
		case info.Name == "":
			info.Verb = "list"
		default:
			info.Verb = "get"
		}
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		if info.Name == "" {
			info.Verb = "deletecollection"
		} else {
			info.Verb = "delete"
		}
	}
	return info
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
