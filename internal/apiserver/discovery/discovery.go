package discovery

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"

	"github.com/svcnet/svcnet/internal/registry"
)

// Content types of aggregated discovery responses, as client-go's
// discovery client recognises them.
const (
	ContentTypeV2      = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
	ContentTypeV2Beta1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
)

// Config configures the discovery handler.
type Config struct {
	// Resources are the served resources.
	Resources []registry.Resource
	// Subresources are added to their parent resource when it is served
	// (see UpstreamSubresources). status and scale come from Resources.
	Subresources []Subresource
	// Scheme, when set, names the request kinds of registry.Resource
	// Actions (POST-only subresources) not listed in Subresources.
	Scheme *runtime.Scheme
	// ServerAddress is the host:port advertised in /api's
	// serverAddressByClientCIDRs; empty means the request's Host.
	ServerAddress string
}

// Handler serves the discovery documents. They are computed once by New.
type Handler struct {
	serverAddress string
	// legacy documents by path
	groupList  []byte            // /apis
	groups     map[string][]byte // /apis/<group>
	resources  map[string][]byte // /api/v1, /apis/<group>/<version>
	coreVers   []string          // versions of the core group
	aggregated map[aggKey]document
}

type aggKey struct {
	path    string // "/api" or "/apis"
	version string // "v2" or "v2beta1"
}

type document struct {
	body []byte
	etag string // quoted
}

// group is one API group with its versions, newest preferred first.
type group struct {
	name     string
	versions []*groupVersion
}

type groupVersion struct {
	version   string
	resources []*resource
}

type resource struct {
	res  registry.Resource
	subs []Subresource
}

// New builds the discovery documents of cfg.Resources.
func New(cfg Config) (*Handler, error) {
	groups, err := buildGroups(cfg)
	if err != nil {
		return nil, err
	}
	h := &Handler{
		serverAddress: cfg.ServerAddress,
		groups:        map[string][]byte{},
		resources:     map[string][]byte{},
		aggregated:    map[aggKey]document{},
	}
	var apiGroups []metav1.APIGroup
	var aggCore, aggGroups []apidiscoveryv2.APIGroupDiscovery
	for _, g := range groups {
		for _, gv := range g.versions {
			path := "/apis/" + g.name + "/" + gv.version
			if g.name == "" {
				path = "/api/" + gv.version
				h.coreVers = append(h.coreVers, gv.version)
			}
			if h.resources[path], err = json.Marshal(resourceList(g.name, gv)); err != nil {
				return nil, fmt.Errorf("encode %s: %w", path, err)
			}
		}
		agg := aggregatedGroup(g)
		if g.name == "" {
			aggCore = append(aggCore, agg)
			continue
		}
		aggGroups = append(aggGroups, agg)
		ag := apiGroup(g)
		apiGroups = append(apiGroups, ag)
		if h.groups[g.name], err = json.Marshal(ag); err != nil {
			return nil, fmt.Errorf("encode group %s: %w", g.name, err)
		}
	}
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: apiGroups}
	if list.Groups == nil {
		list.Groups = []metav1.APIGroup{}
	}
	if h.groupList, err = json.Marshal(list); err != nil {
		return nil, fmt.Errorf("encode group list: %w", err)
	}
	for path, items := range map[string][]apidiscoveryv2.APIGroupDiscovery{"/api": aggCore, "/apis": aggGroups} {
		if items == nil {
			items = []apidiscoveryv2.APIGroupDiscovery{}
		}
		v2 := apidiscoveryv2.APIGroupDiscoveryList{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: apidiscoveryv2.SchemeGroupVersion.String()},
			Items:    items,
		}
		if h.aggregated[aggKey{path, "v2"}], err = newDocument(v2); err != nil {
			return nil, err
		}
		// v2beta1 has the same shape; convert through JSON.
		data, err := json.Marshal(v2)
		if err != nil {
			return nil, fmt.Errorf("encode aggregated %s: %w", path, err)
		}
		var beta apidiscoveryv2beta1.APIGroupDiscoveryList
		if err := json.Unmarshal(data, &beta); err != nil {
			return nil, fmt.Errorf("convert aggregated %s to v2beta1: %w", path, err)
		}
		beta.APIVersion = apidiscoveryv2beta1.SchemeGroupVersion.String()
		if h.aggregated[aggKey{path, "v2beta1"}], err = newDocument(beta); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func newDocument(v any) (document, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return document{}, fmt.Errorf("encode aggregated discovery: %w", err)
	}
	return document{body: data, etag: strconv.Quote(fmt.Sprintf("%X", sha512.Sum512(data)))}, nil
}

// buildGroups orders groups as the resources first name them, versions
// newest first (upstream's preference), resources by name.
func buildGroups(cfg Config) ([]*group, error) {
	var groups []*group
	byName := map[string]*group{}
	seen := map[schema.GroupVersionResource]bool{}
	resByGVR := map[schema.GroupVersionResource]*resource{}
	for _, r := range cfg.Resources {
		gvr := r.GroupVersionResource()
		if r.Resource == "" || r.Version == "" || r.Kind == "" {
			return nil, fmt.Errorf("resource %v: resource, version and kind are required", gvr)
		}
		if seen[gvr] {
			return nil, fmt.Errorf("resource %v listed twice", gvr)
		}
		seen[gvr] = true
		g := byName[r.Group]
		if g == nil {
			g = &group{name: r.Group}
			byName[r.Group] = g
			groups = append(groups, g)
		}
		var gv *groupVersion
		for _, v := range g.versions {
			if v.version == r.Version {
				gv = v
			}
		}
		if gv == nil {
			gv = &groupVersion{version: r.Version}
			g.versions = append(g.versions, gv)
		}
		res := &resource{res: r}
		gv.resources = append(gv.resources, res)
		resByGVR[gvr] = res
	}
	for _, s := range cfg.Subresources {
		res := resByGVR[schema.GroupVersionResource{Group: s.Group, Version: s.Version, Resource: s.Resource}]
		if res == nil || s.Name == "status" || s.Name == "scale" || slices.ContainsFunc(res.subs, func(o Subresource) bool { return o.Name == s.Name }) {
			continue
		}
		res.subs = append(res.subs, s)
	}
	for _, res := range resByGVR {
		for name, action := range res.res.Actions {
			if cfg.Scheme == nil || action.New == nil || slices.ContainsFunc(res.subs, func(o Subresource) bool { return o.Name == name }) {
				continue
			}
			gvks, _, err := cfg.Scheme.ObjectKinds(action.New())
			if err != nil || len(gvks) == 0 {
				return nil, fmt.Errorf("subresource %s/%s: %w", res.res.Resource, name, err)
			}
			res.subs = append(res.subs, Subresource{
				Group: res.res.Group, Version: res.res.Version, Resource: res.res.Resource,
				Name: name, Kind: gvks[0], Verbs: []string{"create"},
			})
		}
	}
	for _, g := range groups {
		sort.SliceStable(g.versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(g.versions[i].version, g.versions[j].version) > 0
		})
		for _, gv := range g.versions {
			sort.Slice(gv.resources, func(i, j int) bool { return gv.resources[i].res.Resource < gv.resources[j].res.Resource })
		}
	}
	return groups, nil
}

// subresources returns every subresource of r (status, scale and the
// extra ones) sorted by name, with kinds filled in.
func (r *resource) subresources() []Subresource {
	var out []Subresource
	parent := schema.GroupVersionKind{Group: r.res.Group, Version: r.res.Version, Kind: r.res.Kind}
	if r.res.StatusStrategy != nil {
		out = append(out, Subresource{Name: "status", Kind: parent, Verbs: []string{"get", "patch", "update"}})
	}
	if r.res.Scale != nil {
		out = append(out, Subresource{Name: "scale", Kind: schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Verbs: []string{"get", "patch", "update"}})
	}
	for _, s := range r.subs {
		if s.Kind.Group == "" && s.Kind.Version == "" {
			s.Kind.Group, s.Kind.Version = r.res.Group, r.res.Version
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func groupVersionString(groupName, v string) string {
	return schema.GroupVersion{Group: groupName, Version: v}.String()
}

// storageVersionHash is an opaque hash of the stored kind, shaped like
// upstream's (base64 of the first 8 bytes of a SHA-256).
func storageVersionHash(r registry.Resource) string {
	sum := sha256.Sum256([]byte(groupVersionString(r.Group, r.Version) + "/" + r.Kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

func resourceList(groupName string, gv *groupVersion) metav1.APIResourceList {
	list := metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: groupVersionString(groupName, gv.version),
		APIResources: []metav1.APIResource{},
	}
	for _, r := range gv.resources {
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name:               r.res.Resource,
			SingularName:       singular(r.res),
			Namespaced:         r.res.Namespaced,
			Kind:               r.res.Kind,
			Verbs:              nonNil(r.res.Verbs),
			ShortNames:         r.res.ShortNames,
			Categories:         r.res.Categories,
			StorageVersionHash: storageVersionHash(r.res),
		})
		for _, s := range r.subresources() {
			ar := metav1.APIResource{
				Name:       r.res.Resource + "/" + s.Name,
				Namespaced: r.res.Namespaced,
				Kind:       s.Kind.Kind,
				Verbs:      nonNil(s.Verbs),
			}
			if s.Kind.Group != r.res.Group || s.Kind.Version != r.res.Version {
				ar.Group, ar.Version = s.Kind.Group, s.Kind.Version
			}
			list.APIResources = append(list.APIResources, ar)
		}
	}
	return list
}

func apiGroup(g *group) metav1.APIGroup {
	ag := metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: g.name}
	for _, gv := range g.versions {
		ag.Versions = append(ag.Versions, metav1.GroupVersionForDiscovery{
			GroupVersion: groupVersionString(g.name, gv.version), Version: gv.version,
		})
	}
	if len(ag.Versions) > 0 {
		ag.PreferredVersion = ag.Versions[0]
	}
	return ag
}

func aggregatedGroup(g *group) apidiscoveryv2.APIGroupDiscovery {
	out := apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: g.name}}
	for _, gv := range g.versions {
		v := apidiscoveryv2.APIVersionDiscovery{
			Version:   gv.version,
			Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent,
		}
		for _, r := range gv.resources {
			scope := apidiscoveryv2.ScopeCluster
			if r.res.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource:         r.res.Resource,
				ResponseKind:     &metav1.GroupVersionKind{Group: r.res.Group, Version: r.res.Version, Kind: r.res.Kind},
				Scope:            scope,
				SingularResource: singular(r.res),
				Verbs:            nonNil(r.res.Verbs),
				ShortNames:       r.res.ShortNames,
				Categories:       r.res.Categories,
			}
			for _, s := range r.subresources() {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource:  s.Name,
					ResponseKind: &metav1.GroupVersionKind{Group: s.Kind.Group, Version: s.Kind.Version, Kind: s.Kind.Kind},
					Verbs:        nonNil(s.Verbs),
				})
			}
			v.Resources = append(v.Resources, rd)
		}
		out.Versions = append(out.Versions, v)
	}
	return out
}

func singular(r registry.Resource) string {
	if r.SingularName != "" {
		return r.SingularName
	}
	return strings.ToLower(r.Kind)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ServeHTTP serves /api, /apis and the documents below them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/api" || path == "/apis":
		if v := aggregatedVersion(r.Header.Get("Accept")); v != "" {
			h.serveAggregated(w, r, h.aggregated[aggKey{path, v}], v)
			return
		}
		if path == "/api" {
			h.serveAPIVersions(w, r)
			return
		}
		writeJSON(w, r, h.groupList)
		return
	}
	if data, ok := h.resources[path]; ok {
		writeJSON(w, r, data)
		return
	}
	if g, ok := strings.CutPrefix(path, "/apis/"); ok && !strings.Contains(g, "/") {
		if data, ok := h.groups[g]; ok {
			writeJSON(w, r, data)
			return
		}
	}
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
}

func (h *Handler) serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	addr := h.serverAddress
	if addr == "" {
		addr = r.Host
	}
	v := metav1.APIVersions{
		TypeMeta:                   metav1.TypeMeta{Kind: "APIVersions"},
		Versions:                   nonNil(h.coreVers),
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: addr}},
	}
	data, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
		return
	}
	writeJSON(w, r, data)
}

// serveAggregated writes an aggregated document with upstream's caching
// headers, answering 304 when the client already has it.
func (h *Handler) serveAggregated(w http.ResponseWriter, r *http.Request, doc document, v string) {
	w.Header().Set("ETag", doc.etag)
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "public")
	if r.Header.Get("If-None-Match") == doc.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ct := ContentTypeV2
	if v == "v2beta1" {
		ct = ContentTypeV2Beta1
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(doc.body)
	}
}

// aggregatedVersion returns "v2" or "v2beta1" when the first acceptable
// media type of accept is aggregated discovery, or "" for the legacy
// documents. Clauses are taken in order, as client-go lists them by
// preference.
func aggregatedVersion(accept string) string {
	for _, clause := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(clause))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
				continue
			}
		}
		switch mt {
		case "application/json":
			if params["as"] == "" {
				return ""
			}
			if params["as"] == "APIGroupDiscoveryList" && params["g"] == apidiscoveryv2.GroupName {
				switch params["v"] {
				case "v2", "v2beta1":
					return params["v"]
				}
			}
		case "*/*", "application/*":
			return ""
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, r *http.Request, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	data, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Message:  msg,
		Reason:   reason,
		Code:     int32(code),
	})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(data)
}
