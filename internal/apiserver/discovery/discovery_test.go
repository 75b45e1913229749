package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
	restclient "k8s.io/client-go/rest"

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
		{Version: "v1", Resource: "services", Kind: "Service", SingularName: "service", ShortNames: []string{"svc"},
			Categories: []string{"all"}, Namespaced: true, Verbs: allVerbs, StatusStrategy: fakeStatus{}},
		{Version: "v1", Resource: "pods", Kind: "Pod", SingularName: "pod", ShortNames: []string{"po"},
			Categories: []string{"all"}, Namespaced: true, Verbs: allVerbs, StatusStrategy: fakeStatus{},
			Actions: map[string]registry.Action{"binding": {New: func() runtime.Object { return &corev1.Binding{} }}}},
		{Version: "v1", Resource: "namespaces", Kind: "Namespace", SingularName: "namespace", ShortNames: []string{"ns"},
			Verbs: []string{"create", "delete", "get", "list", "patch", "update", "watch"}, StatusStrategy: fakeStatus{}},
		{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", SingularName: "deployment",
			ShortNames: []string{"deploy"}, Categories: []string{"all"}, Namespaced: true, Verbs: allVerbs,
			StatusStrategy: fakeStatus{}, Scale: &registry.ScaleAccessor{}},
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice",
			SingularName: "endpointslice", Namespaced: true, Verbs: allVerbs},
	}
}

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(Config{
		Resources:     testResources(),
		Subresources:  UpstreamSubresources(),
		Scheme:        scheme.Scheme,
		ServerAddress: "10.0.0.1:6443",
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// summary flattens a discovery result to "gv resource kind verbs" lines.
func summary(lists []*metav1.APIResourceList) map[string]string {
	out := map[string]string{}
	for _, l := range lists {
		for _, r := range l.APIResources {
			// Legacy lists leave group/version empty when they are the
			// list's; aggregated ones spell them out.
			gvk := schema.GroupVersionKind{Group: r.Group, Version: r.Version, Kind: r.Kind}
			if gvk.Version == "" {
				gv, _ := schema.ParseGroupVersion(l.GroupVersion)
				gvk.Group, gvk.Version = gv.Group, gv.Version
			}
			singular := r.SingularName
			if strings.Contains(r.Name, "/") {
				singular = "" // client-go copies the parent's for aggregated subresources
			}
			verbs := append([]string(nil), r.Verbs...)
			sort.Strings(verbs)
			out[l.GroupVersion+" "+r.Name] = gvk.String() + " " + singular + " " + strings.Join(verbs, ",") + " ns=" + strconv.FormatBool(r.Namespaced)
		}
	}
	return out
}

func TestClientGoDiscovery(t *testing.T) {
	srv := httptest.NewServer(newHandler(t))
	defer srv.Close()

	const all = "create,delete,deletecollection,get,list,patch,update,watch"
	want := map[string]string{
		"v1 services":                        "/v1, Kind=Service service " + all + " ns=true",
		"v1 services/status":                 "/v1, Kind=Service  get,patch,update ns=true",
		"v1 services/proxy":                  "/v1, Kind=ServiceProxyOptions  create,delete,get,patch,update ns=true",
		"v1 pods":                            "/v1, Kind=Pod pod " + all + " ns=true",
		"v1 pods/attach":                     "/v1, Kind=PodAttachOptions  create,get ns=true",
		"v1 pods/binding":                    "/v1, Kind=Binding  create ns=true",
		"v1 pods/eviction":                   "policy/v1, Kind=Eviction  create ns=true",
		"v1 pods/exec":                       "/v1, Kind=PodExecOptions  create,get ns=true",
		"v1 pods/log":                        "/v1, Kind=Pod  get ns=true",
		"v1 pods/portforward":                "/v1, Kind=PodPortForwardOptions  create,get ns=true",
		"v1 pods/proxy":                      "/v1, Kind=PodProxyOptions  create,delete,get,patch,update ns=true",
		"v1 pods/status":                     "/v1, Kind=Pod  get,patch,update ns=true",
		"v1 namespaces":                      "/v1, Kind=Namespace namespace create,delete,get,list,patch,update,watch ns=false",
		"v1 namespaces/finalize":             "/v1, Kind=Namespace  update ns=false",
		"v1 namespaces/status":               "/v1, Kind=Namespace  get,patch,update ns=false",
		"apps/v1 deployments":                "apps/v1, Kind=Deployment deployment " + all + " ns=true",
		"apps/v1 deployments/scale":          "autoscaling/v1, Kind=Scale  get,patch,update ns=true",
		"apps/v1 deployments/status":         "apps/v1, Kind=Deployment  get,patch,update ns=true",
		"discovery.k8s.io/v1 endpointslices": "discovery.k8s.io/v1, Kind=EndpointSlice endpointslice " + all + " ns=true",
	}
	for _, tc := range []struct {
		name   string
		legacy bool
	}{{name: "aggregated", legacy: false}, {name: "legacy", legacy: true}} {
		t.Run(tc.name, func(t *testing.T) {
			dc := discovery.NewDiscoveryClientForConfigOrDie(&restclient.Config{Host: srv.URL})
			dc.UseLegacyDiscovery = tc.legacy
			groups, lists, err := dc.ServerGroupsAndResources()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, summary(lists)); diff != "" {
				t.Errorf("resources (-want +got):\n%s", diff)
			}
			var names []string
			for _, g := range groups {
				names = append(names, g.Name+"="+g.PreferredVersion.GroupVersion)
			}
			if diff := cmp.Diff([]string{"=v1", "apps=apps/v1", "discovery.k8s.io=discovery.k8s.io/v1"}, names); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
			var svc metav1.APIResource
			for _, l := range lists {
				for _, r := range l.APIResources {
					if r.Name == "services" {
						svc = r
					}
				}
			}
			if diff := cmp.Diff([]string{"svc"}, svc.ShortNames); diff != "" {
				t.Errorf("services shortNames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"all"}, svc.Categories); diff != "" {
				t.Errorf("services categories (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAggregatedHeaders(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		name            string
		path            string
		accept          string
		wantContentType string
	}{
		{name: "kubectl 1.33 apis", path: "/apis",
			accept:          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
			wantContentType: ContentTypeV2},
		{name: "v2beta1 only", path: "/api",
			accept:          "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json",
			wantContentType: ContentTypeV2Beta1},
		{name: "nopeer profile", path: "/api",
			accept:          "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json",
			wantContentType: ContentTypeV2},
		{name: "legacy", path: "/apis", accept: "application/json, */*", wantContentType: "application/json"},
		{name: "no accept", path: "/api", wantContentType: "application/json"},
		{name: "unknown aggregated version", path: "/api",
			accept:          "application/json;g=apidiscovery.k8s.io;v=v9;as=APIGroupDiscoveryList,application/json",
			wantContentType: "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("code = %d, want 200", rec.Code)
			}
			if got := rec.Header().Get("Content-Type"); got != tc.wantContentType {
				t.Errorf("Content-Type = %q, want %q", got, tc.wantContentType)
			}
			if tc.wantContentType == "application/json" {
				if got := rec.Header().Get("ETag"); got != "" {
					t.Errorf("legacy ETag = %q, want none", got)
				}
				return
			}
			etag := rec.Header().Get("ETag")
			if etag == "" || etag[0] != '"' {
				t.Fatalf("ETag = %q, want a quoted hash", etag)
			}
			if got, want := rec.Header().Get("Cache-Control"), "public"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Vary"), "Accept"; got != want {
				t.Errorf("Vary = %q, want %q", got, want)
			}
			req.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				t.Errorf("conditional GET code = %d, want 304", rec.Code)
			}
			if rec.Body.Len() != 0 {
				t.Errorf("304 body has %d bytes, want none", rec.Body.Len())
			}
		})
	}
}

func TestLegacyDocuments(t *testing.T) {
	h := newHandler(t)
	tests := []struct {
		name     string
		path     string
		wantCode int
		want     string
	}{
		{name: "api", path: "/api", wantCode: 200,
			want: `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"10.0.0.1:6443"}]}`},
		{name: "group", path: "/apis/apps", wantCode: 200,
			want: `{"kind":"APIGroup","apiVersion":"v1","name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}`},
		{name: "unknown group", path: "/apis/batch", wantCode: 404},
		{name: "unknown version", path: "/apis/apps/v2", wantCode: 404},
		{name: "unknown core version", path: "/api/v2", wantCode: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("code = %d, want %d", rec.Code, tc.wantCode)
			}
			if tc.want != "" && rec.Body.String() != tc.want {
				t.Errorf("body =\n%s\nwant\n%s", rec.Body.String(), tc.want)
			}
		})
	}
}

func TestVersionPreference(t *testing.T) {
	h, err := New(Config{Resources: []registry.Resource{
		{Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true},
		{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true},
		{Group: "autoscaling", Version: "v2beta2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	dc := discovery.NewDiscoveryClientForConfigOrDie(&restclient.Config{Host: srv.URL})
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups.Groups {
		if g.Name != "autoscaling" {
			continue
		}
		got = append(got, "preferred="+g.PreferredVersion.Version)
		for _, v := range g.Versions {
			got = append(got, v.Version)
		}
	}
	if diff := cmp.Diff([]string{"preferred=v2", "v2", "v1", "v2beta2"}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
}

func TestNewRejectsDuplicates(t *testing.T) {
	r := testResources()[0]
	if _, err := New(Config{Resources: []registry.Resource{r, r}}); err == nil {
		t.Errorf("New with duplicate resource succeeded, want error")
	}
}
