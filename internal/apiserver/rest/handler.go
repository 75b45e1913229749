package rest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/svcnet/svcnet/internal/registry"
	"github.com/svcnet/svcnet/internal/storage"
)

// MaxRequestBodyBytes bounds request bodies, as kube-apiserver's 3 MiB
// limit does (etcd's default request limit is 1.5 MiB per value).
const MaxRequestBodyBytes = 3 << 20

// Config configures the handler of one resource.
type Config struct {
	Resource registry.Resource
	Store    storage.Interface
	Codecs   *Codecs
	// TypeConverter enables managedFields tracking and server-side apply;
	// nil leaves managedFields untouched and rejects apply patches.
	TypeConverter managedfields.TypeConverter
	// Admit is the admission chain run after validation of every write
	// (nil: none).
	Admit registry.AdmitFunc
	// Now is the clock for creationTimestamp and deletionTimestamp.
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves one resource and its status/scale subresources.
type Handler struct {
	cfg       Config
	res       *registry.Resource
	prefix    string
	gr        schema.GroupResource
	gv        schema.GroupVersion
	typ       reflect.Type
	managers  map[string]*managedfields.FieldManager // by subresource ("" = main)
	logger    *slog.Logger
	nowFunc   func() time.Time
	namespace bool
}

// New returns the handler of cfg.Resource.
func New(cfg Config) (*Handler, error) {
	res := &cfg.Resource
	h := &Handler{
		cfg:       cfg,
		res:       res,
		prefix:    StoragePrefix(res),
		gr:        schema.GroupResource{Group: res.Group, Resource: res.Resource},
		gv:        schema.GroupVersion{Group: res.Group, Version: res.Version},
		typ:       reflect.TypeOf(res.New()),
		managers:  map[string]*managedfields.FieldManager{},
		logger:    cfg.Logger,
		nowFunc:   cfg.Now,
		namespace: res.Namespaced,
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	if h.nowFunc == nil {
		h.nowFunc = time.Now
	}
	if cfg.TypeConverter != nil && res.Review == nil {
		subresources := []string{""}
		if res.StatusStrategy != nil {
			subresources = append(subresources, "status")
		}
		for sub := range res.UpdateSubresources {
			subresources = append(subresources, sub)
		}
		for _, sub := range subresources {
			fm, err := managedfields.NewDefaultFieldManager(cfg.TypeConverter, cfg.Codecs.Scheme, cfg.Codecs.Scheme,
				cfg.Codecs.Scheme, res.GroupVersionKind(), h.gv, sub, nil)
			if err != nil {
				return nil, fmt.Errorf("field manager for %s: %w", h.gr, err)
			}
			h.managers[sub] = fm
		}
	}
	return h, nil
}

// StoragePrefix is the key prefix (without trailing slash) under which
// objects of res are stored. It follows kube-apiserver's etcd layout.
func StoragePrefix(res *registry.Resource) string {
	switch {
	case res.Group == "" && res.Resource == "services":
		return "/registry/services/specs"
	case res.Group == "" && res.Resource == "endpoints":
		return "/registry/services/endpoints"
	case res.Group == "" && res.Resource == "nodes":
		return "/registry/minions"
	case res.Group == "":
		return "/registry/" + res.Resource
	case res.Group == "networking.k8s.io" && res.Resource == "ingresses":
		return "/registry/ingress" // sic: kube-apiserver's historical prefix
	case res.Group == "networking.k8s.io", res.Group == "certificates.k8s.io":
		return "/registry/" + res.Resource
	default:
		return "/registry/" + res.Group + "/" + res.Resource
	}
}

// Resource is the descriptor this handler serves.
func (h *Handler) Resource() *registry.Resource { return h.res }

func (h *Handler) key(ns, name string) string {
	if h.namespace {
		return h.prefix + "/" + ns + "/" + name
	}
	return h.prefix + "/" + name
}

func (h *Handler) listPrefix(ns string) string {
	if h.namespace && ns != "" {
		return h.prefix + "/" + ns + "/"
	}
	return h.prefix + "/"
}

// ServeHTTP dispatches a resource request already routed to this resource.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	info := ParseRequestInfo(r)
	if h.res.Deprecation != "" {
		addWarnings(w, []string{h.res.Deprecation})
	}
	if h.namespace && info.Namespace == "" && info.Name != "" {
		h.writeError(w, r, apierrors.NewNotFound(h.gr, info.Name), info.Name)
		return
	}
	if !h.namespace && info.Namespace != "" {
		h.writeError(w, r, apierrors.NewNotFound(h.gr, ""), "")
		return
	}
	if h.res.Review != nil {
		h.serveReview(w, r, info)
		return
	}
	if connect, ok := h.res.Connectors[connectorName(info.Subresource)]; ok && info.Subresource != "" {
		h.serveConnect(w, r, info, connect)
		return
	}
	if action, ok := h.res.Actions[info.Subresource]; ok && info.Subresource != "" {
		h.serveAction(w, r, info, action)
		return
	}
	if c, ok := h.res.Creators[info.Subresource]; ok && info.Subresource != "" {
		h.serveCreator(w, r, info, c)
		return
	}
	if _, ok := h.res.UpdateSubresources[info.Subresource]; ok && info.Subresource != "" {
		h.serveUpdateSubresource(w, r, info)
		return
	}
	switch info.Subresource {
	case "":
	case "status":
		if h.res.StatusStrategy == nil {
			h.writeError(w, r, apierrors.NewNotFound(h.gr, info.Name), info.Name)
			return
		}
	case "finalize":
		if h.res.Group != "" || h.res.Resource != "namespaces" || info.Verb != "update" {
			h.writeError(w, r, apierrors.NewNotFound(h.gr, info.Name), info.Name)
			return
		}
	case "scale":
		if h.res.Scale == nil {
			h.writeError(w, r, apierrors.NewNotFound(h.gr, info.Name), info.Name)
			return
		}
		h.serveScale(w, r, info)
		return
	default:
		h.writeError(w, r, apierrors.NewNotFound(schema.GroupResource{Group: h.gr.Group,
			Resource: h.gr.Resource + "/" + info.Subresource}, info.Name), info.Name)
		return
	}
	switch info.Verb {
	case "get":
		h.get(w, r, info)
	case "list":
		h.list(w, r, info)
	case "watch":
		h.watch(w, r, info)
	case "create":
		if info.Name != "" {
			h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, "create"), info.Name)
			return
		}
		h.create(w, r, info)
	case "update":
		h.update(w, r, info)
	case "patch":
		h.patch(w, r, info)
	case "delete":
		if info.Subresource != "" {
			h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, "delete"), info.Name)
			return
		}
		h.delete(w, r, info)
	case "deletecollection":
		h.deleteCollection(w, r, info)
	default:
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, strings.ToLower(r.Method)), info.Name)
	}
}

// readBody reads at most MaxRequestBodyBytes of the request body.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading request body: %v", err))
	}
	if len(data) > MaxRequestBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", MaxRequestBodyBytes))
	}
	return data, nil
}

// decodeObject decodes a request body into a new object of this resource
// and checks that it is of the right kind.
func (h *Handler) decodeObject(r *http.Request, body []byte, validation string) (runtime.Object, []string, error) {
	if len(body) == 0 {
		return nil, nil, apierrors.NewBadRequest("the request body is empty")
	}
	obj, warnings, err := h.cfg.Codecs.decodeBody(bodyMediaType(r), body, h.res.New(), validation)
	if err != nil {
		if apierrors.IsBadRequest(err) || apierrors.IsUnsupportedMediaType(err) {
			return nil, nil, err
		}
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	if reflect.TypeOf(obj) != h.typ {
		gvks, _, _ := h.cfg.Codecs.Scheme.ObjectKinds(obj)
		got := "unknown"
		if len(gvks) > 0 {
			got = gvks[0].GroupVersion().String()
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf(
			"the API version in the data (%s) does not match the expected API version (%s)", got, h.gv.String()))
	}
	return obj, warnings, nil
}

// readWrite parses the options and decodes the body of a write: an object
// of this resource, its namespace and name checked against the URL, when
// newReq is nil, else a subresource's request object (a Binding).
func (h *Handler) readWrite(r *http.Request, info RequestInfo, newReq func() runtime.Object) (writeRequest, runtime.Object, []string, error) {
	wr, err := h.parseWrite(r, info)
	if err != nil {
		return wr, nil, nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return wr, nil, nil, err
	}
	if newReq != nil {
		req, warnings, err := h.cfg.Codecs.decodeBody(bodyMediaType(r), body, newReq(), wr.validation)
		if err != nil {
			return wr, nil, nil, apierrors.NewBadRequest(err.Error())
		}
		return wr, req, warnings, nil
	}
	obj, warnings, err := h.decodeObject(r, body, wr.validation)
	if err != nil {
		return wr, nil, nil, err
	}
	if err := h.checkNamespaceAndName(obj, info); err != nil {
		return wr, nil, nil, err
	}
	return wr, obj, warnings, nil
}

// newList returns an empty list of this resource.
func (h *Handler) newList() runtime.Object { return h.res.NewList() }

// checkNamespaceAndName ensures the object's namespace and name agree with
// the URL, filling them in when empty.
func (h *Handler) checkNamespaceAndName(obj runtime.Object, info RequestInfo) error {
	acc, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	if h.namespace {
		switch ns := acc.GetNamespace(); {
		case ns == "":
			acc.SetNamespace(info.Namespace)
		case ns != info.Namespace:
			return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		acc.SetNamespace("")
	}
	if info.Name != "" {
		switch name := acc.GetName(); {
		case name == "":
			acc.SetName(info.Name)
		case name != info.Name:
			return apierrors.NewBadRequest(fmt.Sprintf(
				"the name of the object (%s) does not match the name on the URL (%s)", name, info.Name))
		}
	}
	return nil
}

// fieldManagerName returns the manager recorded in managedFields.
func fieldManagerName(r *http.Request) (string, error) {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		if len(m) > 128 {
			return "", apierrors.NewBadRequest("fieldManager: Too long: may not be more than 128 bytes")
		}
		return m, nil
	}
	ua := r.UserAgent()
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua, nil
}

func isDryRun(r *http.Request) bool {
	for _, v := range r.URL.Query()["dryRun"] {
		if v == metav1.DryRunAll {
			return true
		}
	}
	return false
}

func fieldValidation(r *http.Request) (string, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "", metav1.FieldValidationIgnore, metav1.FieldValidationWarn, metav1.FieldValidationStrict:
		if v == "" {
			v = metav1.FieldValidationWarn
		}
		return v, nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf(
		"fieldValidation parameter unsupported: %s. Must be one of: Ignore, Warn, Strict", v))
}

// addWarnings sets Warning headers as kube-apiserver does.
func addWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", msg))
	}
}

// requestContext gives the storage calls of one request a bound.
func requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 60*time.Second)
}

// admit runs the admission chain on one write.
func (h *Handler) admit(ctx context.Context, op registry.Operation, sub string, obj, old runtime.Object, dryRun bool) error {
	if h.cfg.Admit == nil {
		return nil
	}
	a := &registry.AdmissionAttributes{Operation: op, Resource: h.res.GroupVersionResource(), Subresource: sub,
		Object: obj, OldObject: old, DryRun: dryRun}
	for _, o := range []runtime.Object{obj, old} {
		if acc, err := meta.Accessor(o); o != nil && err == nil {
			a.Namespace, a.Name = acc.GetNamespace(), acc.GetName()
			break
		}
	}
	return h.cfg.Admit(ctx, a)
}
