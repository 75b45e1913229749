package openapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/applyconfigurations"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/openapi3"
	restclient "k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/registry"
)

type fakeStatus struct{}

func (fakeStatus) PrepareForUpdate(context.Context, runtime.Object, runtime.Object) {}
func (fakeStatus) ValidateUpdate(context.Context, runtime.Object, runtime.Object) field.ErrorList {
	return nil
}

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

func testResources() []registry.Resource {
	return []registry.Resource{
		{Version: "v1", Resource: "services", Kind: "Service", ListKind: "ServiceList", Namespaced: true,
			Verbs: allVerbs, StatusStrategy: fakeStatus{}},
		{Version: "v1", Resource: "namespaces", Kind: "Namespace", ListKind: "NamespaceList",
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, StatusStrategy: fakeStatus{}},
		{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", ListKind: "DeploymentList",
			Namespaced: true, Verbs: allVerbs, StatusStrategy: fakeStatus{}, Scale: &registry.ScaleAccessor{}},
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice",
			Namespaced: true, Verbs: allVerbs},
	}
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	s := api.NewScheme()
	h, err := New(Config{Resources: testResources(), Scheme: s, TypeConverter: applyconfigurations.NewTypeConverter(scheme.Scheme), Version: "v1.33.0"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newRoot(t *testing.T, h http.Handler) openapi3.Root {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	rc, err := restclient.RESTClientFor(&restclient.Config{
		Host:    srv.URL,
		APIPath: "/",
		ContentConfig: restclient.ContentConfig{
			NegotiatedSerializer: scheme.Codecs.WithoutConversion(),
			GroupVersion:         &schema.GroupVersion{},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return openapi3.NewRoot(openapi.NewClient(rc))
}

// supportsQueryParam mirrors kubectl's check (cli-runtime
// queryParamVerifierV3): the first PATCH operation carrying gvk decides.
func supportsQueryParam(doc *spec3.OpenAPI, gvk schema.GroupVersionKind, param string) bool {
	for _, p := range doc.Paths.Paths {
		op := p.Patch
		if op == nil {
			continue
		}
		var got map[string]string
		if err := op.Extensions.GetObject("x-kubernetes-group-version-kind", &got); err != nil {
			continue
		}
		if got["group"] != gvk.Group || got["version"] != gvk.Version || got["kind"] != gvk.Kind {
			continue
		}
		for _, prm := range op.Parameters {
			if prm.Name == param {
				return true
			}
		}
		return false
	}
	return false
}

func TestQueryParamVerifier(t *testing.T) {
	root := newRoot(t, newTestHandler(t))
	gvs, err := root.GroupVersions()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, gv := range gvs {
		names = append(names, gv.String())
	}
	if diff := cmp.Diff([]string{"apps/v1", "discovery.k8s.io/v1", "v1"}, names); diff != "" {
		t.Errorf("group versions (-want +got):\n%s", diff)
	}
	tests := []struct {
		name  string
		gvk   schema.GroupVersionKind
		param string
		want  bool
	}{
		{name: "deployment fieldValidation", gvk: appsv1.SchemeGroupVersion.WithKind("Deployment"), param: "fieldValidation", want: true},
		{name: "service fieldValidation", gvk: corev1.SchemeGroupVersion.WithKind("Service"), param: "fieldValidation", want: true},
		{name: "namespace fieldValidation", gvk: corev1.SchemeGroupVersion.WithKind("Namespace"), param: "fieldValidation", want: true},
		{name: "endpointslice dryRun", gvk: schema.GroupVersionKind{Group: "discovery.k8s.io", Version: "v1", Kind: "EndpointSlice"}, param: "dryRun", want: true},
		{name: "service force", gvk: corev1.SchemeGroupVersion.WithKind("Service"), param: "force", want: true},
		{name: "service unknown param", gvk: corev1.SchemeGroupVersion.WithKind("Service"), param: "bogus", want: false},
		{name: "kind not served", gvk: corev1.SchemeGroupVersion.WithKind("Pod"), param: "fieldValidation", want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := root.GVSpec(tc.gvk.GroupVersion())
			if err != nil {
				t.Fatal(err)
			}
			// The first matching PATCH decides and map order is random:
			// check several times.
			for i := 0; i < 5; i++ {
				if got := supportsQueryParam(doc, tc.gvk, tc.param); got != tc.want {
					t.Fatalf("supports %s = %v, want %v", tc.param, got, tc.want)
				}
			}
		})
	}
}

func TestPaths(t *testing.T) {
	root := newRoot(t, newTestHandler(t))
	doc, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	type opInfo struct{ Path, Method, ID, Action, GVK string }
	var got []opInfo
	for p, item := range doc.Paths.Paths {
		for method, op := range map[string]*spec3.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "PATCH": item.Patch, "DELETE": item.Delete} {
			if op == nil {
				continue
			}
			var gvk map[string]string
			_ = op.Extensions.GetObject("x-kubernetes-group-version-kind", &gvk)
			action, _ := op.Extensions.GetString("x-kubernetes-action")
			got = append(got, opInfo{p, method, op.OperationId, action, gvk["group"] + "/" + gvk["version"] + "/" + gvk["kind"]})
		}
	}
	want := []opInfo{
		{"/apis/apps/v1/deployments", "GET", "listAppsV1DeploymentForAllNamespaces", "list", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "DELETE", "deleteAppsV1CollectionNamespacedDeployment", "deletecollection", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "GET", "listAppsV1NamespacedDeployment", "list", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "POST", "createAppsV1NamespacedDeployment", "post", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "DELETE", "deleteAppsV1NamespacedDeployment", "delete", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "GET", "readAppsV1NamespacedDeployment", "get", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "PATCH", "patchAppsV1NamespacedDeployment", "patch", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "PUT", "replaceAppsV1NamespacedDeployment", "put", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "GET", "readAppsV1NamespacedDeploymentScale", "get", "autoscaling/v1/Scale"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "PATCH", "patchAppsV1NamespacedDeploymentScale", "patch", "autoscaling/v1/Scale"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "PUT", "replaceAppsV1NamespacedDeploymentScale", "put", "autoscaling/v1/Scale"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "GET", "readAppsV1NamespacedDeploymentStatus", "get", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "PATCH", "patchAppsV1NamespacedDeploymentStatus", "patch", "apps/v1/Deployment"},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status", "PUT", "replaceAppsV1NamespacedDeploymentStatus", "put", "apps/v1/Deployment"},
	}
	sort.Slice(got, func(i, j int) bool {
		if got[i].Path != got[j].Path {
			return got[i].Path < got[j].Path
		}
		return got[i].Method < got[j].Method
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
}

func TestSchemas(t *testing.T) {
	root := newRoot(t, newTestHandler(t))
	core, err := root.GVSpec(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	apps, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	prop := func(doc *spec3.OpenAPI, typ, field string) spec.Schema {
		t.Helper()
		s, ok := doc.Components.Schemas[typ]
		if !ok {
			t.Fatalf("schema %s missing", typ)
		}
		p, ok := s.Properties[field]
		if !ok {
			t.Fatalf("schema %s has no property %s", typ, field)
		}
		return p
	}
	ext := func(s spec.Schema, name string) any { return s.Extensions[name] }

	tests := []struct {
		name string
		got  any
		want any
	}{
		{name: "service GVK", got: ext(*core.Components.Schemas["io.k8s.api.core.v1.Service"], "x-kubernetes-group-version-kind"),
			want: []any{map[string]any{"group": "", "version": "v1", "kind": "Service"}}},
		{name: "ports patch strategy", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "ports"), "x-kubernetes-patch-strategy"), want: "merge"},
		{name: "ports merge key", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "ports"), "x-kubernetes-patch-merge-key"), want: "port"},
		{name: "ports list type", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "ports"), "x-kubernetes-list-type"), want: "map"},
		{name: "ports list keys", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "ports"), "x-kubernetes-list-map-keys"), want: []any{"port", "protocol"}},
		{name: "clusterIPs list type", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "clusterIPs"), "x-kubernetes-list-type"), want: "atomic"},
		{name: "selector map type", got: ext(prop(core, "io.k8s.api.core.v1.ServiceSpec", "selector"), "x-kubernetes-map-type"), want: "atomic"},
		{name: "targetPort int-or-string", got: ext(*core.Components.Schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"], "x-kubernetes-int-or-string"), want: true},
		{name: "creationTimestamp", got: core.Components.Schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"].Format, want: "date-time"},
		{name: "label selector atomic", got: ext(*apps.Components.Schemas["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"], "x-kubernetes-map-type"), want: "atomic"},
		{name: "containers merge key", got: ext(prop(apps, "io.k8s.api.core.v1.PodSpec", "containers"), "x-kubernetes-patch-merge-key"), want: "name"},
		{name: "container required", got: apps.Components.Schemas["io.k8s.api.core.v1.Container"].Required, want: []string{"name"}},
		{name: "service port required", got: core.Components.Schemas["io.k8s.api.core.v1.ServicePort"].Required, want: []string{"port"}},
		{name: "scale GVK", got: ext(*apps.Components.Schemas["io.k8s.api.autoscaling.v1.Scale"], "x-kubernetes-group-version-kind"),
			want: []any{map[string]any{"group": "autoscaling", "version": "v1", "kind": "Scale"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Compare through JSON so []string and []any agree.
			g, _ := json.Marshal(tc.got)
			w, _ := json.Marshal(tc.want)
			if string(g) != string(w) {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

// TestStrategicMergeFromSchema computes kubectl apply's three-way patch
// from the served schema, as kubectl does with OpenAPI v3, and checks it
// equals the patch computed from the Go struct tags.
func TestStrategicMergeFromSchema(t *testing.T) {
	root := newRoot(t, newTestHandler(t))
	doc, err := root.GVSpec(appsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	var lookup strategicpatch.LookupPatchMeta
	for _, s := range doc.Components.Schemas {
		var gvks []map[string]string
		if err := s.Extensions.GetObject("x-kubernetes-group-version-kind", &gvks); err != nil {
			continue
		}
		for _, gvk := range gvks {
			if gvk["group"] == "apps" && gvk["version"] == "v1" && gvk["kind"] == "Deployment" {
				lookup = strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: doc.Components.Schemas}
			}
		}
	}
	if lookup == nil {
		t.Fatal("no schema carries apps/v1 Deployment")
	}
	original := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
		"spec":{"replicas":1,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80}]},{"name":"b","image":"y"}]}}}}`
	modified := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web","tier":"fe"}},
		"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
		"spec":{"containers":[{"name":"a","image":"x2","ports":[{"containerPort":80},{"containerPort":443}]}]}}}}`
	current := strings.Replace(original, `"replicas":1`, `"replicas":1,"strategy":{"type":"RollingUpdate"}`, 1)

	got, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), lookup, false)
	if err != nil {
		t.Fatalf("patch from schema: %v", err)
	}
	fromStruct, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := strategicpatch.CreateThreeWayMergePatch([]byte(original), []byte(modified), []byte(current), fromStruct, false)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("patch from schema differs from struct patch (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(got), `"$setElementOrder/containers"`) {
		t.Errorf("patch %s does not merge containers by name", got)
	}
}

func TestCaching(t *testing.T) {
	h := newTestHandler(t)
	get := func(target string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := get("/openapi/v3", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("index code = %d, want 200", rec.Code)
	}
	var index discoveryIndex
	if err := json.Unmarshal(rec.Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	u := index.Paths["apis/apps/v1"].ServerRelativeURL
	if !strings.HasPrefix(u, "/openapi/v3/apis/apps/v1?hash=") {
		t.Fatalf("serverRelativeURL = %q", u)
	}
	if rec := get("/openapi/v3", map[string]string{"If-None-Match": rec.Header().Get("ETag")}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional index code = %d, want 304", rec.Code)
	}

	tests := []struct {
		name             string
		target           string
		hdr              map[string]string
		wantCode         int
		wantCacheControl string
		wantLocation     string
	}{
		{name: "by hash", target: u, wantCode: 200, wantCacheControl: "public, immutable"},
		{name: "without hash", target: "/openapi/v3/apis/apps/v1", wantCode: 200, wantCacheControl: "no-cache, private"},
		{name: "stale hash redirects", target: "/openapi/v3/apis/apps/v1?hash=ABC", wantCode: 301, wantLocation: u},
		{name: "protobuf only", target: u, hdr: map[string]string{"Accept": "application/com.github.proto-openapi.spec.v3.v1.0+protobuf"}, wantCode: 406},
		{name: "unknown group version", target: "/openapi/v3/apis/batch/v1", wantCode: 404},
		{name: "v2 not served", target: "/openapi/v2", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(tc.target, tc.hdr)
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d", rec.Code, tc.wantCode)
			}
			if tc.wantCacheControl != "" {
				if got := rec.Header().Get("Cache-Control"); got != tc.wantCacheControl {
					t.Errorf("Cache-Control = %q, want %q", got, tc.wantCacheControl)
				}
			}
			if tc.wantLocation != "" {
				if got := rec.Header().Get("Location"); got != tc.wantLocation {
					t.Errorf("Location = %q, want %q", got, tc.wantLocation)
				}
			}
			if tc.wantCode == 200 {
				etag := rec.Header().Get("ETag")
				if rec := get(tc.target, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
					t.Errorf("conditional code = %d, want 304", rec.Code)
				}
			}
		})
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		name string
		obj  any
		want string
	}{
		{name: "core", obj: corev1.Service{}, want: "io.k8s.api.core.v1.Service"},
		{name: "apps pointer", obj: &appsv1.Deployment{}, want: "io.k8s.api.apps.v1.Deployment"},
		{name: "runtime", obj: runtime.RawExtension{}, want: "io.k8s.apimachinery.pkg.runtime.RawExtension"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Name(reflectType(tc.obj)); got != tc.want {
				t.Errorf("Name = %q, want %q", got, tc.want)
			}
		})
	}
}
