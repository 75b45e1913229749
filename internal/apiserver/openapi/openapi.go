package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"github.com/svcnet/svcnet/internal/registry"
)

// Config configures the OpenAPI handler.
type Config struct {
	// Resources are the served resources; one document is built per
	// group-version.
	Resources []registry.Resource
	// Scheme holds the Go types of every resource kind and list kind.
	Scheme *runtime.Scheme
	// TypeConverter, when set (e.g. client-go's
	// applyconfigurations.NewTypeConverter), supplies the list and map
	// merge semantics (x-kubernetes-list-type, -list-map-keys, -map-type)
	// that struct tags do not carry.
	TypeConverter managedfields.TypeConverter
	// Version is the documents' info.version (e.g. "v1.33.0").
	Version string
}

// Handler serves /openapi/v3 and its group-version documents, and 404 on
// /openapi/v2.
type Handler struct {
	index document
	docs  map[string]document // "api/v1", "apis/apps/v1"
}

type document struct {
	body []byte
	hash string // unquoted
}

// discoveryIndex is the /openapi/v3 index document.
type discoveryIndex struct {
	Paths map[string]discoveryPath `json:"paths"`
}

type discoveryPath struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// New builds every document of cfg.Resources.
func New(cfg Config) (*Handler, error) {
	if cfg.Scheme == nil {
		return nil, fmt.Errorf("openapi: scheme not set")
	}
	if cfg.Version == "" {
		cfg.Version = "unversioned"
	}
	sem := semanticsFrom(mergedSchema(cfg))
	byGV := map[schema.GroupVersion][]registry.Resource{}
	for _, r := range cfg.Resources {
		gv := schema.GroupVersion{Group: r.Group, Version: r.Version}
		byGV[gv] = append(byGV[gv], r)
	}
	h := &Handler{docs: map[string]document{}}
	index := discoveryIndex{Paths: map[string]discoveryPath{}}
	for gv, resources := range byGV {
		doc, err := buildDocument(cfg, sem, gv, resources)
		if err != nil {
			return nil, fmt.Errorf("openapi document for %s: %w", gv, err)
		}
		key := gvPath(gv)
		h.docs[key] = doc
		u := url.URL{Path: "/openapi/v3/" + key, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
		index.Paths[key] = discoveryPath{ServerRelativeURL: u.String()}
	}
	var err error
	if h.index, err = newDocument(index); err != nil {
		return nil, err
	}
	return h, nil
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func newDocument(v any) (document, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return document{}, fmt.Errorf("encode openapi document: %w", err)
	}
	return document{body: data, hash: fmt.Sprintf("%X", sha512.Sum512(data))}, nil
}

// mergedSchema collects the structured-merge-diff schema behind the type
// converter by converting an empty object of each served kind.
func mergedSchema(cfg Config) *smdschema.Schema {
	if cfg.TypeConverter == nil {
		return nil
	}
	out := &smdschema.Schema{}
	seen := map[*smdschema.Schema]bool{}
	for _, r := range cfg.Resources {
		obj, err := cfg.Scheme.New(r.GroupVersionKind())
		if err != nil {
			continue
		}
		obj.GetObjectKind().SetGroupVersionKind(r.GroupVersionKind())
		tv, err := cfg.TypeConverter.ObjectToTyped(obj)
		if err != nil || tv.Schema() == nil || seen[tv.Schema()] {
			continue
		}
		seen[tv.Schema()] = true
		out.Types = append(out.Types, tv.Schema().Types...)
	}
	return out
}

func buildDocument(cfg Config, sem semantics, gv schema.GroupVersion, resources []registry.Resource) (document, error) {
	b := &docBuilder{gv: gv, scheme: cfg.Scheme, gen: newGenerator(cfg.Scheme, sem), paths: map[string]*spec3.Path{}}
	sort.Slice(resources, func(i, j int) bool { return resources[i].Resource < resources[j].Resource })
	for _, r := range resources {
		if err := b.addResource(r); err != nil {
			return document{}, err
		}
	}
	doc := &spec3.OpenAPI{
		Version: "3.0.0",
		Info:    &spec.Info{InfoProps: spec.InfoProps{Title: "Kubernetes", Version: cfg.Version}},
		Paths:   &spec3.Paths{Paths: b.paths},
		Components: &spec3.Components{
			Schemas: b.gen.schemas,
			SecuritySchemes: spec3.SecuritySchemes{"BearerToken": &spec3.SecurityScheme{
				SecuritySchemeProps: spec3.SecuritySchemeProps{
					Type: "apiKey", Name: "authorization", In: "header",
					Description: "Bearer token authentication",
				},
			}},
		},
		SecurityRequirement: []map[string][]string{{"BearerToken": {}}},
	}
	return newDocument(doc)
}

// ServeHTTP serves the index, the documents and 404 for anything else.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			fmt.Sprintf("%s is not supported on %s", r.Method, r.URL.Path))
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	if p == "/openapi/v3" {
		w.Header().Set("Cache-Control", "no-cache, private")
		serve(w, r, h.index, "application/json")
		return
	}
	key, ok := strings.CutPrefix(p, "/openapi/v3/")
	doc, found := h.docs[key]
	if !ok || !found {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
		return
	}
	w.Header().Add("Vary", "Accept")
	if !acceptsJSON(r.Header.Get("Accept")) {
		writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
			"only application/json is supported for OpenAPI v3 documents")
		return
	}
	if hash := r.URL.Query().Get("hash"); hash != "" {
		if hash != doc.hash {
			u := url.URL{Path: "/openapi/v3/" + key, RawQuery: url.Values{"hash": {doc.hash}}.Encode()}
			http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
			return
		}
		// Addressed by content hash: the document never changes.
		w.Header().Set("Cache-Control", "public, immutable")
		w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	serve(w, r, doc, "application/json")
}

// serve writes doc with its ETag; http.ServeContent answers
// If-None-Match with 304.
func serve(w http.ResponseWriter, r *http.Request, doc document, contentType string) {
	w.Header().Set("ETag", strconv.Quote(doc.hash))
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(doc.body))
}

// acceptsJSON reports whether an Accept header admits application/json.
func acceptsJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
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
		case "application/json", "application/*", "*/*":
			return true
		}
	}
	return false
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
