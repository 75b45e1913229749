package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/authz"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

// funcAuthorizer allows what allow says and records every question.
type funcAuthorizer struct {
	allow func(a authz.Attributes) bool
	asked []authz.Attributes
}

func (f *funcAuthorizer) Authorize(_ context.Context, a authz.Attributes) authz.Decision {
	f.asked = append(f.asked, a)
	return authz.Decision{Allowed: f.allow(a)}
}

func (f *funcAuthorizer) RulesFor(context.Context, authn.User, string) ([]authz.Rule, []authz.Rule, bool) {
	return nil, nil, true
}

func withUser(r *http.Request, u authn.User) *http.Request {
	return r.WithContext(authn.WithUser(r.Context(), u))
}

func TestRequestAttributes(t *testing.T) {
	u := authn.User{Name: "alice"}
	tests := []struct {
		name, method, path string
		want               authz.Attributes
	}{
		{name: "get", method: "GET", path: "/api/v1/namespaces/ns/pods/p",
			want: authz.Attributes{Verb: "get", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "pods", Name: "p"}},
		{name: "list by name is a named list", method: "GET", path: "/api/v1/namespaces/ns/secrets?fieldSelector=metadata.name%3Ds",
			want: authz.Attributes{Verb: "list", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "secrets", Name: "s"}},
		{name: "watch by name", method: "GET", path: "/api/v1/namespaces/ns/secrets?watch=1&fieldSelector=metadata.name%3Ds",
			want: authz.Attributes{Verb: "watch", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "secrets", Name: "s"}},
		{name: "list by another field stays unnamed", method: "GET", path: "/api/v1/pods?fieldSelector=spec.nodeName%3Dn",
			want: authz.Attributes{Verb: "list", ResourceRequest: true, Version: "v1", Resource: "pods"}},
		{name: "a namespace is in itself", method: "GET", path: "/api/v1/namespaces/ns",
			want: authz.Attributes{Verb: "get", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "namespaces", Name: "ns"}},
		{name: "exec over websocket needs create", method: "GET", path: "/api/v1/namespaces/ns/pods/p/exec?command=ls",
			want: authz.Attributes{Verb: "create", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "pods", Subresource: "exec", Name: "p"}},
		{name: "proxy path is not part of the subresource", method: "PUT", path: "/api/v1/namespaces/ns/services/s/proxy/a/b",
			want: authz.Attributes{Verb: "update", ResourceRequest: true, Namespace: "ns", Version: "v1", Resource: "services", Subresource: "proxy", Name: "s"}},
		{name: "deletecollection", method: "DELETE", path: "/apis/apps/v1/namespaces/ns/deployments",
			want: authz.Attributes{Verb: "deletecollection", ResourceRequest: true, Namespace: "ns", Group: "apps", Version: "v1", Resource: "deployments"}},
		{name: "non-resource", method: "HEAD", path: "/openapi/v2",
			want: authz.Attributes{Verb: "get", Path: "/openapi/v2"}},
		{name: "non-resource post", method: "POST", path: "/logs",
			want: authz.Attributes{Verb: "post", Path: "/logs"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RequestAttributes(httptest.NewRequest(tc.method, tc.path, nil), u)
			tc.want.User = u
			if tc.want.ResourceRequest {
				got.Path = ""
			}
			if !slices.Equal(got.User.Groups, tc.want.User.Groups) || got.User.Name != tc.want.User.Name {
				t.Fatalf("user %v, want %v", got.User, tc.want.User)
			}
			got.User, tc.want.User = authn.User{}, authn.User{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAuthorization(t *testing.T) {
	codecs := rest.NewCodecs(api.NewScheme())
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	az := &funcAuthorizer{allow: func(a authz.Attributes) bool { return a.Resource == "services" }}
	h := withAuthorization(ok, az, DefaultAlwaysAllowPaths, codecs)
	tests := []struct {
		name, path string
		user       *authn.User
		want       int
		message    string
	}{
		{name: "allowed", path: "/api/v1/namespaces/ns/services", user: &authn.User{Name: "bob"}, want: 200},
		{name: "named, namespaced", path: "/api/v1/namespaces/ns/secrets/s", user: &authn.User{Name: "bob"}, want: 403,
			message: `secrets "s" is forbidden: User "bob" cannot get resource "secrets" in API group "" in the namespace "ns"`},
		{name: "cluster scope, group", path: "/apis/apps/v1/deployments", user: &authn.User{Name: "bob"}, want: 403,
			message: `deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API group "apps" at the cluster scope`},
		{name: "subresource", path: "/api/v1/namespaces/ns/pods/p/log", user: &authn.User{Name: "bob"}, want: 403,
			message: `pods "p" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "ns"`},
		{name: "path", path: "/metrics", user: &authn.User{Name: "bob"}, want: 403,
			message: `forbidden: User "bob" cannot get path "/metrics"`},
		{name: "always allowed path", path: "/cacerts", user: &authn.User{Name: authn.UserAnonymous}, want: 200},
		{name: "no user: in-process", path: "/api/v1/secrets", want: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.user != nil {
				r = withUser(r, *tc.user)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("got %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.message == "" {
				return
			}
			var s metav1.Status
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatal(err)
			}
			if s.Message != tc.message || s.Reason != metav1.StatusReasonForbidden {
				t.Errorf("got %q (%s), want %q", s.Message, s.Reason, tc.message)
			}
		})
	}
}

func TestImpersonation(t *testing.T) {
	codecs := rest.NewCodecs(api.NewScheme())
	var seen authn.User
	var seenHeaders http.Header
	record := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = authn.FromContext(r.Context())
		seenHeaders = r.Header
		w.WriteHeader(http.StatusOK)
	})
	// The admin may impersonate anyone but the group "root" and the
	// ServiceAccount kube-system/secret.
	az := &funcAuthorizer{allow: func(a authz.Attributes) bool {
		return a.User.Name == "admin" && a.Verb == "impersonate" && a.Name != "root" && a.Name != "secret"
	}}
	h := withImpersonation(record, az, codecs)
	tests := []struct {
		name      string
		requester string
		headers   map[string][]string
		want      int
		wantUser  authn.User
	}{
		{name: "no headers", requester: "bob", want: 200, wantUser: authn.User{Name: "bob"}},
		{name: "user", requester: "admin", headers: map[string][]string{"Impersonate-User": {"jane"}}, want: 200,
			wantUser: authn.User{Name: "jane", Groups: []string{"system:authenticated"}}},
		{name: "user and groups", requester: "admin",
			headers: map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Group": {"dev", "ops"}}, want: 200,
			wantUser: authn.User{Name: "jane", Groups: []string{"dev", "ops", "system:authenticated"}}},
		{name: "service account gets its groups", requester: "admin",
			headers: map[string][]string{"Impersonate-User": {"system:serviceaccount:ns:sa"}}, want: 200,
			wantUser: authn.User{Name: "system:serviceaccount:ns:sa",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"}}},
		{name: "forbidden group", requester: "admin",
			headers: map[string][]string{"Impersonate-User": {"jane"}, "Impersonate-Group": {"root"}}, want: 403},
		{name: "forbidden service account", requester: "admin",
			headers: map[string][]string{"Impersonate-User": {"system:serviceaccount:kube-system:secret"}}, want: 403},
		{name: "not allowed to impersonate", requester: "bob", headers: map[string][]string{"Impersonate-User": {"jane"}}, want: 403},
		{name: "groups without a user", requester: "admin", headers: map[string][]string{"Impersonate-Group": {"dev"}}, want: 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen, seenHeaders = authn.User{}, nil
			r := withUser(httptest.NewRequest("GET", "/api/v1/pods", nil), authn.User{Name: tc.requester})
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.want {
				t.Fatalf("got %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want != 200 {
				if seenHeaders != nil {
					t.Fatal("refused request reached the handler")
				}
				return
			}
			if seen.Name != tc.wantUser.Name || !slices.Equal(seen.Groups, tc.wantUser.Groups) {
				t.Errorf("ran as %+v, want %+v", seen, tc.wantUser)
			}
			for k := range seenHeaders {
				if len(k) > 12 && k[:12] == "Impersonate-" {
					t.Errorf("header %s passed on", k)
				}
			}
		})
	}
}
