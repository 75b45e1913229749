package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

// DefaultAlwaysAllowPaths are reachable by anyone authenticated or not, as
// kube-apiserver's --authorization-always-allow-paths default, plus
// /cacerts, which joining agents read before they hold any credential.
var DefaultAlwaysAllowPaths = []string{"/healthz", "/readyz", "/livez", "/cacerts"}

// connectCreate are the subresources whose every request, also a GET
// upgraded to a WebSocket, needs create, as kube-apiserver asks since
// the WebSocket protocols for exec, attach and port-forward.
var connectCreate = []string{"exec", "attach", "portforward"}

// withAuthorization asks authorizer about every request and answers 403
// with kube-apiserver's message when it is not allowed. It must run after
// authentication and impersonation. A request without a user (in-process
// tests without authentication) and the paths in alwaysAllow pass.
func withAuthorization(next http.Handler, authorizer authz.Authorizer, alwaysAllow []string, codecs *rest.Codecs) http.Handler {
	if authorizer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := authn.FromContext(r.Context())
		if !ok || slices.Contains(alwaysAllow, r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		a := RequestAttributes(r, u)
		if d := authorizer.Authorize(r.Context(), a); !d.Allowed {
			rest.WriteStatus(codecs, w, r, &forbidden(a, d.Reason).ErrStatus)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequestAttributes are the authorization attributes of r made by u, as
// kube-apiserver derives them: the verb of a resource request from its
// method (list, watch, deletecollection where no name is given), the name
// of a list or watch from a metadata.name field selector, the namespace of
// a namespaces request from its name, create for exec, attach and
// port-forward; a non-resource request's verb is its lower-case method.
func RequestAttributes(r *http.Request, u authn.User) authz.Attributes {
	info := rest.ParseRequestInfo(r)
	if !info.IsResource {
		verb := strings.ToLower(r.Method)
		if verb == "head" {
			verb = "get"
		}
		return authz.Attributes{User: u, Verb: verb, Path: r.URL.Path}
	}
	a := authz.Attributes{User: u, Verb: info.Verb, ResourceRequest: true, Namespace: info.Namespace, Group: info.Group,
		Version: info.Version, Resource: info.Resource, Subresource: info.Subresource, Name: info.Name, Path: r.URL.Path}
	if a.Group == "" && a.Resource == "namespaces" && a.Name != "" {
		a.Namespace = a.Name
	}
	if (a.Verb == "list" || a.Verb == "watch") && a.Name == "" {
		if sel, err := fields.ParseSelector(r.URL.Query().Get("fieldSelector")); err == nil {
			if name, ok := sel.RequiresExactMatch("metadata.name"); ok {
				a.Name = name
			}
		}
	}
	if sub, _, _ := strings.Cut(a.Subresource, "/"); slices.Contains(connectCreate, sub) {
		a.Subresource, a.Verb = sub, "create"
	} else if sub == "proxy" || sub == "log" {
		a.Subresource = sub // pods/proxy/<path>: the path is not part of the resource
	}
	return a
}

// forbidden is kube-apiserver's 403 for a request not allowed.
func forbidden(a authz.Attributes, reason string) *apierrors.StatusError {
	var msg string
	switch {
	case !a.ResourceRequest:
		msg = fmt.Sprintf("User %q cannot %s path %q", a.User.Name, a.Verb, a.Path)
	default:
		res := a.Resource
		if a.Subresource != "" {
			res += "/" + a.Subresource
		}
		scope := "at the cluster scope"
		if a.Namespace != "" {
			scope = fmt.Sprintf("in the namespace %q", a.Namespace)
		}
		msg = fmt.Sprintf("User %q cannot %s resource %q in API group %q %s", a.User.Name, a.Verb, res, a.Group, scope)
	}
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.Group, Resource: a.Resource}, a.Name, fmt.Errorf("%s", msg))
}
