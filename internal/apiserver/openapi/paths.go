package openapi

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"github.com/svcnet/svcnet/internal/registry"
)

// responseMediaTypes are the media types the server answers with.
func responseMediaTypes() []string {
	return []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
}

// patchMediaTypes are the patch formats the server accepts.
func patchMediaTypes() []string {
	return []string{
		"application/apply-patch+yaml", "application/json-patch+json",
		"application/merge-patch+json", "application/strategic-merge-patch+json",
	}
}

// queryParam builds a query parameter of the given JSON type.
func queryParam(name, typ, description string) *spec3.Parameter {
	s := &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{typ}}}
	if typ == "string" {
		s.UniqueItems = true // as upstream marks its string query parameters
	}
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: name, In: "query", Description: description, Schema: s,
	}}
}

func pathParam(name, description string) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: name, In: "path", Description: description, Required: true,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}, UniqueItems: true}},
	}}
}

// Query parameters per operation kind, named as upstream does.
func listParams() []*spec3.Parameter {
	return []*spec3.Parameter{
		queryParam("allowWatchBookmarks", "boolean", "Request watch events of type BOOKMARK."),
		queryParam("continue", "string", "Continue token from a previous paginated list."),
		queryParam("fieldSelector", "string", "Restrict the returned objects by their fields."),
		queryParam("labelSelector", "string", "Restrict the returned objects by their labels."),
		queryParam("limit", "integer", "Maximum number of objects to return."),
		queryParam("resourceVersion", "string", "Resource version the result must be at least as new as."),
		queryParam("resourceVersionMatch", "string", "How resourceVersion applies to list calls."),
		queryParam("sendInitialEvents", "boolean", "Start a watch with synthetic events for the current state."),
		queryParam("timeoutSeconds", "integer", "Timeout for the list or watch call."),
		queryParam("watch", "boolean", "Watch for changes instead of listing."),
	}
}

func writeParams() []*spec3.Parameter {
	return []*spec3.Parameter{
		queryParam("dryRun", "string", "When present (All), changes are not persisted."),
		queryParam("fieldManager", "string", "Name of the actor making the change."),
		queryParam("fieldValidation", "string", "How to treat unknown or duplicate fields: Ignore, Warn or Strict."),
	}
}

func patchParams() []*spec3.Parameter {
	return append(writeParams(), queryParam("force", "boolean", "Force an apply request, taking over conflicting fields."))
}

func deleteParams() []*spec3.Parameter {
	return []*spec3.Parameter{
		queryParam("dryRun", "string", "When present (All), changes are not persisted."),
		queryParam("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
		queryParam("orphanDependents", "boolean", "Deprecated: use propagationPolicy."),
		queryParam("propagationPolicy", "string", "Whether and how garbage collection is done: Orphan, Background or Foreground."),
	}
}

// pascalGroupVersion names a group-version in operation ids:
// "" v1 -> CoreV1, apps v1 -> AppsV1, discovery.k8s.io v1 -> DiscoveryV1.
func pascalGroupVersion(gv schema.GroupVersion) string {
	g := "Core"
	if gv.Group != "" {
		g = ""
		for _, part := range strings.Split(strings.TrimSuffix(gv.Group, ".k8s.io"), ".") {
			g += capitalise(part)
		}
	}
	return g + capitalise(gv.Version)
}

// tag is upstream's operation tag: core_v1, apps_v1, discovery_v1.
func tag(gv schema.GroupVersion) string {
	p := pascalGroupVersion(gv)
	p = strings.TrimSuffix(p, capitalise(gv.Version))
	return strings.ToLower(p[:1]) + p[1:] + "_" + gv.Version
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// docBuilder assembles one group-version document.
type docBuilder struct {
	gv     schema.GroupVersion
	scheme *runtime.Scheme
	gen    *generator
	paths  map[string]*spec3.Path
}

func (b *docBuilder) path(p string, params ...*spec3.Parameter) *spec3.Path {
	if pi, ok := b.paths[p]; ok {
		return pi
	}
	pi := &spec3.Path{PathProps: spec3.PathProps{Parameters: params}}
	b.paths[p] = pi
	return pi
}

// typeOf returns the Go type registered for gvk.
func (b *docBuilder) typeOf(gvk schema.GroupVersionKind) (reflect.Type, error) {
	t, ok := b.scheme.AllKnownTypes()[gvk]
	if !ok {
		return nil, fmt.Errorf("kind %v is not registered in the scheme", gvk)
	}
	return t, nil
}

type operation struct {
	method   string // GET, POST, PUT, PATCH, DELETE
	action   string // x-kubernetes-action
	id       string
	params   []*spec3.Parameter
	body     string // request schema name
	patch    bool   // body is a patch
	response string // response schema name
	codes    []int
	gvk      schema.GroupVersionKind
}

func (b *docBuilder) operation(o operation) *spec3.Operation {
	op := &spec3.Operation{OperationProps: spec3.OperationProps{
		Tags:        []string{tag(b.gv)},
		OperationId: o.id,
		Parameters:  o.params,
		Responses:   &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{}}},
	}}
	op.AddExtension(extAction, o.action)
	op.AddExtension(extGVK, map[string]any{"group": o.gvk.Group, "version": o.gvk.Version, "kind": o.gvk.Kind})
	if o.body != "" {
		types := []string{"*/*"}
		if o.patch {
			types = patchMediaTypes()
		}
		content := map[string]*spec3.MediaType{}
		for _, mt := range types {
			s := refTo(o.body)
			content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &s}}
		}
		op.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{Content: content, Required: o.method != "DELETE"}}
	}
	for _, code := range o.codes {
		content := map[string]*spec3.MediaType{}
		for _, mt := range responseMediaTypes() {
			s := refTo(o.response)
			content[mt] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &s}}
		}
		desc := map[int]string{200: "OK", 201: "Created", 202: "Accepted"}[code]
		op.Responses.StatusCodeResponses[code] = &spec3.Response{ResponseProps: spec3.ResponseProps{Description: desc, Content: content}}
	}
	op.Responses.StatusCodeResponses[401] = &spec3.Response{ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}}
	return op
}

func setOp(p *spec3.Path, method string, op *spec3.Operation) {
	switch method {
	case "GET":
		p.Get = op
	case "POST":
		p.Post = op
	case "PUT":
		p.Put = op
	case "PATCH":
		p.Patch = op
	case "DELETE":
		p.Delete = op
	}
}

// addResource adds the paths of r (collection, item, all-namespaces list,
// status and scale).
func (b *docBuilder) addResource(r registry.Resource) error {
	gvk := r.GroupVersionKind()
	t, err := b.typeOf(gvk)
	if err != nil {
		return err
	}
	kindSchema := b.gen.root(t)
	has := func(v string) bool { return slices.Contains(r.Verbs, v) }
	// Review resources (SelfSubjectReview) are created only and have no
	// list kind.
	var listSchema string
	if has("list") || has("deletecollection") {
		listKind := r.ListKind
		if listKind == "" {
			listKind = r.Kind + "List"
		}
		lt, err := b.typeOf(b.gv.WithKind(listKind))
		if err != nil {
			return err
		}
		listSchema = b.gen.root(lt)
	}
	statusSchema := b.gen.root(reflect.TypeOf(metav1.Status{}))
	deleteOptsSchema := b.gen.root(reflect.TypeOf(metav1.DeleteOptions{}))
	patchSchema := b.gen.root(reflect.TypeOf(metav1.Patch{}))

	prefix := "/apis/" + b.gv.Group + "/" + b.gv.Version
	if b.gv.Group == "" {
		prefix = "/api/" + b.gv.Version
	}
	pretty := queryParam("pretty", "string", "If 'true', the output is pretty printed.")
	nameParam := pathParam("name", "name of the "+r.Kind)
	collParams := []*spec3.Parameter{pretty}
	coll := prefix + "/" + r.Resource
	scope := ""
	if r.Namespaced {
		coll = prefix + "/namespaces/{namespace}/" + r.Resource
		collParams = []*spec3.Parameter{pathParam("namespace", "object name and auth scope, such as for teams and projects"), pretty}
		scope = "Namespaced"
	}
	item := coll + "/{name}"
	itemParams := append([]*spec3.Parameter{nameParam}, collParams...)
	id := func(verb, suffix string) string { return verb + pascalGroupVersion(b.gv) + scope + r.Kind + suffix }

	if has("list") {
		setOp(b.path(coll, collParams...), "GET", b.operation(operation{
			method: "GET", action: "list", id: id("list", ""), params: listParams(),
			response: listSchema, codes: []int{200}, gvk: gvk,
		}))
		if r.Namespaced {
			setOp(b.path(prefix+"/"+r.Resource, pretty), "GET", b.operation(operation{
				method: "GET", action: "list", id: "list" + pascalGroupVersion(b.gv) + r.Kind + "ForAllNamespaces",
				params: listParams(), response: listSchema, codes: []int{200}, gvk: gvk,
			}))
		}
	}
	if has("create") {
		setOp(b.path(coll, collParams...), "POST", b.operation(operation{
			method: "POST", action: "post", id: id("create", ""), params: writeParams(),
			body: kindSchema, response: kindSchema, codes: []int{200, 201, 202}, gvk: gvk,
		}))
	}
	if has("deletecollection") {
		setOp(b.path(coll, collParams...), "DELETE", b.operation(operation{
			method: "DELETE", action: "deletecollection", id: "delete" + pascalGroupVersion(b.gv) + "Collection" + scope + r.Kind,
			params: append(deleteParams(), listParams()...), body: deleteOptsSchema,
			response: statusSchema, codes: []int{200}, gvk: gvk,
		}))
	}
	if has("get") {
		setOp(b.path(item, itemParams...), "GET", b.operation(operation{
			method: "GET", action: "get", id: id("read", ""), response: kindSchema, codes: []int{200}, gvk: gvk,
		}))
	}
	if has("update") {
		setOp(b.path(item, itemParams...), "PUT", b.operation(operation{
			method: "PUT", action: "put", id: id("replace", ""), params: writeParams(),
			body: kindSchema, response: kindSchema, codes: []int{200, 201}, gvk: gvk,
		}))
	}
	if has("patch") {
		setOp(b.path(item, itemParams...), "PATCH", b.operation(operation{
			method: "PATCH", action: "patch", id: id("patch", ""), params: patchParams(),
			body: patchSchema, patch: true, response: kindSchema, codes: []int{200, 201}, gvk: gvk,
		}))
	}
	if has("delete") {
		setOp(b.path(item, itemParams...), "DELETE", b.operation(operation{
			method: "DELETE", action: "delete", id: id("delete", ""), params: deleteParams(),
			body: deleteOptsSchema, response: statusSchema, codes: []int{200, 202}, gvk: gvk,
		}))
	}
	if r.StatusStrategy != nil {
		b.addSubresource(item+"/status", itemParams, id, "Status", kindSchema, patchSchema, gvk)
	}
	for _, sub := range slices.Sorted(maps.Keys(r.UpdateSubresources)) {
		b.addSubresource(item+"/"+sub, itemParams, id, strings.ToUpper(sub[:1])+sub[1:], kindSchema, patchSchema, gvk)
	}
	if r.Scale != nil {
		scaleGVK := autoscalingv1.SchemeGroupVersion.WithKind("Scale")
		scaleSchema := b.gen.root(reflect.TypeOf(autoscalingv1.Scale{}))
		b.addSubresource(item+"/scale", itemParams, id, "Scale", scaleSchema, patchSchema, scaleGVK)
	}
	return nil
}

// addSubresource adds get, put and patch of a status or scale subresource.
func (b *docBuilder) addSubresource(p string, params []*spec3.Parameter, id func(verb, suffix string) string,
	suffix, schemaName, patchSchema string, gvk schema.GroupVersionKind) {
	pi := b.path(p, params...)
	pi.Get = b.operation(operation{
		method: "GET", action: "get", id: id("read", suffix), response: schemaName, codes: []int{200}, gvk: gvk,
	})
	pi.Put = b.operation(operation{
		method: "PUT", action: "put", id: id("replace", suffix), params: writeParams(),
		body: schemaName, response: schemaName, codes: []int{200, 201}, gvk: gvk,
	})
	pi.Patch = b.operation(operation{
		method: "PATCH", action: "patch", id: id("patch", suffix), params: patchParams(),
		body: patchSchema, patch: true, response: schemaName, codes: []int{200, 201}, gvk: gvk,
	})
}
