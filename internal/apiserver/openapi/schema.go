package openapi

import (
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
)

// Extension names kubectl and the SMP/SSA machinery read.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extAction        = "x-kubernetes-action"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extIntOrString   = "x-kubernetes-int-or-string"
	extPreserve      = "x-kubernetes-preserve-unknown-fields"
)

const (
	pkgMetaV1  = "k8s.io/apimachinery/pkg/apis/meta/v1"
	pkgRuntime = "k8s.io/apimachinery/pkg/runtime"
	pkgIntstr  = "k8s.io/apimachinery/pkg/util/intstr"
	pkgQty     = "k8s.io/apimachinery/pkg/api/resource"
)

// semantics are the merge semantics structured-merge-diff knows for the
// built-in types: list types and map types, by schema name and field.
type semantics struct {
	fields  map[string]map[string]fieldSemantics // type name -> json field -> semantics
	atomics map[string]bool                      // struct types merged atomically
}

type fieldSemantics struct {
	listType string // atomic, set or map
	listKeys []string
	mapType  string // atomic or granular
}

// semanticsFrom extracts list and map semantics from an SMD schema.
func semanticsFrom(s *smdschema.Schema) semantics {
	sem := semantics{fields: map[string]map[string]fieldSemantics{}, atomics: map[string]bool{}}
	if s == nil {
		return sem
	}
	for _, td := range s.Types {
		if td.Map == nil {
			continue
		}
		if td.Map.ElementRelationship == smdschema.Atomic {
			sem.atomics[td.Name] = true
		}
		for _, f := range td.Map.Fields {
			var fs fieldSemantics
			atom := f.Type.Inlined
			if l := atom.List; l != nil {
				switch l.ElementRelationship {
				case smdschema.Atomic:
					fs.listType = "atomic"
				case smdschema.Associative:
					if len(l.Keys) == 0 {
						fs.listType = "set"
					} else {
						fs.listType, fs.listKeys = "map", l.Keys
					}
				}
			}
			if m := atom.Map; m != nil && m.ElementRelationship == smdschema.Atomic {
				fs.mapType = "atomic"
			}
			if er := f.Type.ElementRelationship; er != nil && *er == smdschema.Atomic && f.Type.NamedType == nil && fs.listType == "" {
				fs.mapType = "atomic"
			}
			if fs.listType == "" && fs.mapType == "" {
				continue
			}
			if sem.fields[td.Name] == nil {
				sem.fields[td.Name] = map[string]fieldSemantics{}
			}
			sem.fields[td.Name][f.Name] = fs
		}
	}
	return sem
}

// generator reflects Go types into OpenAPI v3 component schemas.
type generator struct {
	gvks    map[reflect.Type][]schema.GroupVersionKind
	sem     semantics
	schemas map[string]*spec.Schema
}

func newGenerator(scheme *runtime.Scheme, sem semantics) *generator {
	g := &generator{gvks: map[reflect.Type][]schema.GroupVersionKind{}, sem: sem, schemas: map[string]*spec.Schema{}}
	for gvk, t := range scheme.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		g.gvks[t] = append(g.gvks[t], gvk)
	}
	for t := range g.gvks {
		sort.Slice(g.gvks[t], func(i, j int) bool { return g.gvks[t][i].String() < g.gvks[t][j].String() })
	}
	return g
}

// Name returns the upstream schema name of a named Go type:
// k8s.io/api/core/v1.Service -> io.k8s.api.core.v1.Service.
func Name(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	host, rest, _ := strings.Cut(pkg, "/")
	labels := strings.Split(host, ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	name := strings.Join(labels, ".")
	if rest != "" {
		name += "." + strings.ReplaceAll(rest, "/", ".")
	}
	return name + "." + t.Name()
}

func refTo(name string) spec.Schema {
	return spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef("#/components/schemas/" + name)}}
}

// root adds the schema of the named struct type t and returns its name.
func (g *generator) root(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := Name(t)
	g.define(t, name)
	return name
}

// define adds the component schema name for t (once).
func (g *generator) define(t reflect.Type, name string) {
	if _, ok := g.schemas[name]; ok {
		return
	}
	s := &spec.Schema{}
	g.schemas[name] = s // placeholder first: types may refer to themselves
	if special, ok := specialSchema(t); ok {
		*s = special
	} else {
		*s = g.structSchema(t, name)
	}
	if gvks := g.gvks[t]; len(gvks) > 0 {
		var list []any
		for _, gvk := range gvks {
			list = append(list, map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind})
		}
		s.AddExtension(extGVK, list)
	}
	if g.sem.atomics[name] {
		s.AddExtension(extMapType, "atomic")
	}
}

// specialSchema covers the types whose JSON form differs from their Go
// structure.
func specialSchema(t reflect.Type) (spec.Schema, bool) {
	switch t.PkgPath() + "." + t.Name() {
	case pkgMetaV1 + ".Time", pkgMetaV1 + ".MicroTime":
		return *spec.DateTimeProperty(), true
	case pkgMetaV1 + ".Duration":
		return *spec.StringProperty(), true
	case pkgMetaV1 + ".FieldsV1", pkgRuntime + ".RawExtension", pkgMetaV1 + ".Patch":
		s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
		if t.Name() == "RawExtension" {
			s.AddExtension(extPreserve, true)
		}
		return s, true
	case pkgIntstr + ".IntOrString", pkgQty + ".Quantity":
		s := spec.Schema{SchemaProps: spec.SchemaProps{AnyOf: []spec.Schema{
			{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}}},
			{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"string"}}},
		}}}
		s.AddExtension(extIntOrString, true)
		return s, true
	}
	return spec.Schema{}, false
}

func (g *generator) structSchema(t reflect.Type, name string) spec.Schema {
	s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Properties: map[string]spec.Schema{}}}
	g.addFields(&s, t, name)
	sort.Strings(s.Required)
	return s
}

func (g *generator) addFields(s *spec.Schema, t reflect.Type, name string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		jsonName, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && jsonName == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				g.addFields(s, ft, name)
				continue
			}
		}
		if jsonName == "" {
			jsonName = f.Name
		}
		prop := g.property(f.Type)
		if ps := f.Tag.Get("patchStrategy"); ps != "" {
			prop.AddExtension(extPatchStrategy, ps)
		}
		if mk := f.Tag.Get("patchMergeKey"); mk != "" {
			prop.AddExtension(extPatchMergeKey, mk)
		}
		if fs, ok := g.sem.fields[name][jsonName]; ok {
			if fs.listType != "" && prop.Type.Contains("array") {
				prop.AddExtension(extListType, fs.listType)
				if len(fs.listKeys) > 0 {
					keys := make([]any, 0, len(fs.listKeys))
					for _, k := range fs.listKeys {
						keys = append(keys, k)
					}
					prop.AddExtension(extListMapKeys, keys)
				}
			}
			if fs.mapType != "" && prop.Type.Contains("object") {
				prop.AddExtension(extMapType, fs.mapType)
			}
		}
		s.Properties[jsonName] = prop
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") && f.Type.Kind() != reflect.Pointer {
			s.Required = append(s.Required, jsonName)
		}
	}
}

func hasOpt(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// property returns the schema of a field of type t: inline for scalars,
// arrays and maps, a reference for named structs (wrapped in allOf like
// upstream, so that extensions may sit beside it).
func (g *generator) property(t reflect.Type) spec.Schema {
	ptr := false
	for t.Kind() == reflect.Pointer {
		t, ptr = t.Elem(), true
	}
	if _, ok := specialSchema(t); ok {
		name := Name(t)
		g.define(t, name)
		return refTo(name)
	}
	switch t.Kind() {
	case reflect.Bool:
		return *spec.BoolProperty()
	case reflect.Int, reflect.Int32, reflect.Int16, reflect.Int8, reflect.Uint16, reflect.Uint8:
		return *spec.Int32Property()
	case reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return *spec.Int64Property()
	case reflect.Float32, reflect.Float64:
		return *spec.Float64Property()
	case reflect.String:
		return *spec.StringProperty()
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			s := spec.StringProperty()
			s.Format = "byte"
			return *s
		}
		item := g.property(t.Elem())
		return *spec.ArrayProperty(&item)
	case reflect.Map:
		val := g.property(t.Elem())
		return *spec.MapProperty(&val)
	case reflect.Struct:
		if t.Name() == "" {
			return g.structSchema(t, "")
		}
		name := Name(t)
		g.define(t, name)
		s := spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{refTo(name)}}}
		if !ptr {
			s.Default = map[string]any{}
		}
		return s
	}
	// interface{} and anything else without a fixed JSON shape.
	s := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}}}
	s.AddExtension(extPreserve, true)
	return s
}
