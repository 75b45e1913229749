package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

// The impersonation headers kubectl's --as, --as-group and --as-uid send.
const (
	headerImpersonateUser   = "Impersonate-User"
	headerImpersonateGroup  = "Impersonate-Group"
	headerImpersonateUID    = "Impersonate-Uid"
	headerImpersonateExtra  = "Impersonate-Extra-"
	serviceAccountPrefix    = "system:serviceaccount:"
	groupServiceAccounts    = "system:serviceaccounts"
	groupServiceAccountsPre = "system:serviceaccounts:"
)

// withImpersonation lets a user act as another one through the
// Impersonate-* headers, as kube-apiserver does: the requester must be
// allowed to impersonate the user (or the ServiceAccount), each group, the
// UID and each extra value; the request then runs as the impersonated
// user alone. Groups without a user are a bad request. It must run after
// authentication and before authorization.
func withImpersonation(next http.Handler, authorizer authz.Authorizer, codecs *rest.Codecs) http.Handler {
	if authorizer == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.Header.Get(headerImpersonateUser)
		groups := r.Header.Values(headerImpersonateGroup)
		uid := r.Header.Get(headerImpersonateUID)
		var extraKeys []string
		for h := range r.Header {
			if strings.HasPrefix(h, headerImpersonateExtra) {
				extraKeys = append(extraKeys, h)
			}
		}
		if name == "" && len(groups) == 0 && uid == "" && len(extraKeys) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		requester, ok := authn.FromContext(r.Context())
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if name == "" {
			rest.WriteStatus(codecs, w, r, &apierrors.NewBadRequest(
				"requested impersonation of groups, a UID or extra fields without impersonating a user").ErrStatus)
			return
		}
		var checks []authz.Attributes
		check := func(group, resource, ns, name string) {
			checks = append(checks, authz.Attributes{User: requester, Verb: "impersonate", ResourceRequest: true,
				Group: group, Resource: resource, Namespace: ns, Name: name})
		}
		if ns, sa, ok := serviceAccountOf(name); ok {
			check("", "serviceaccounts", ns, sa)
		} else {
			check("", "users", "", name)
		}
		for _, g := range groups {
			check("", "groups", "", g)
		}
		if uid != "" {
			check("authentication.k8s.io", "uids", "", uid)
		}
		slices.Sort(extraKeys)
		for _, h := range extraKeys {
			key := strings.ToLower(strings.TrimPrefix(h, headerImpersonateExtra))
			for _, v := range r.Header.Values(h) {
				check("authentication.k8s.io", "userextras/"+key, "", v)
			}
		}
		for _, a := range checks {
			if d := authorizer.Authorize(r.Context(), a); !d.Allowed {
				rest.WriteStatus(codecs, w, r, &impersonationForbidden(a, d.Reason).ErrStatus)
				return
			}
		}
		u := authn.User{Name: name, Groups: slices.Clone(groups)}
		if ns, _, ok := serviceAccountOf(name); ok && len(groups) == 0 {
			u.Groups = []string{groupServiceAccounts, groupServiceAccountsPre + ns}
		}
		if name != authn.UserAnonymous && !slices.Contains(u.Groups, authn.GroupAuthenticated) {
			u.Groups = append(u.Groups, authn.GroupAuthenticated)
		}
		// The impersonated identity does not leak to anything downstream.
		r = r.Clone(authn.WithUser(r.Context(), u))
		for h := range r.Header {
			if strings.HasPrefix(h, "Impersonate-") {
				r.Header.Del(h)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// serviceAccountOf splits system:serviceaccount:<ns>:<name>.
func serviceAccountOf(user string) (ns, name string, ok bool) {
	tail, found := strings.CutPrefix(user, serviceAccountPrefix)
	if !found {
		return "", "", false
	}
	ns, name, ok = strings.Cut(tail, ":")
	return ns, name, ok && ns != "" && name != "" && !strings.Contains(name, ":")
}

// impersonationForbidden is kube-apiserver's 403 for an impersonation the
// requester may not do.
func impersonationForbidden(a authz.Attributes, reason string) *apierrors.StatusError {
	scope := "at the cluster scope"
	if a.Namespace != "" {
		scope = fmt.Sprintf("in the namespace %q", a.Namespace)
	}
	msg := fmt.Sprintf("User %q cannot impersonate resource %q in API group %q %s", a.User.Name, a.Resource, a.Group, scope)
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: a.Group, Resource: a.Resource}, a.Name, fmt.Errorf("%s", msg))
}
