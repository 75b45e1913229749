package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/registry"
)

var (
	coreV1 = schema.GroupVersion{Version: "v1"}
	metaV1 = metav1.SchemeGroupVersion
)

// writeError writes err as a metav1.Status.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error, name string) {
	WriteStatus(h.cfg.Codecs, w, r, StatusFor(err, h.gr, name))
}

// WriteStatus writes a Status in the negotiated format (JSON if none fits).
func WriteStatus(c *Codecs, w http.ResponseWriter, r *http.Request, s *metav1.Status) {
	mt := mediaJSON
	if a, err := negotiate(r); err == nil && a.mediaType != mediaProtobuf {
		mt = a.mediaType
	}
	s.Kind, s.APIVersion = "Status", "v1"
	if s.Status == "" {
		s.Status = metav1.StatusFailure
	}
	data, err := c.encode(mt, s, coreV1)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", mt)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(statusCode(s))
	_, _ = w.Write(data)
}

// writeObject writes obj (an object or list of this resource) in the
// representation the client negotiated: the object itself, a Table, or
// partial object metadata.
func (h *Handler) writeObject(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object) {
	a, err := negotiate(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	out, gv := obj, h.gv
	switch a.kind {
	case outputTable:
		table, err := h.table(r, obj, true)
		if err != nil {
			h.writeError(w, r, err, "")
			return
		}
		out, gv = table, metaV1
	case outputPartialMetadata:
		pom, err := partialMetadata(obj)
		if err != nil {
			h.writeError(w, r, err, "")
			return
		}
		out, gv = pom, metaV1
	}
	data, err := h.cfg.Codecs.encode(a.mediaType, out, gv)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	w.Header().Set("Content-Type", a.mediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// table converts obj to a Table, honouring includeObject.
func (h *Handler) table(r *http.Request, obj runtime.Object, withColumns bool) (*metav1.Table, error) {
	q := r.URL.Query()
	opts := registry.TableOptions{NoHeaders: !withColumns}
	tf := h.res.Table
	if tf == nil {
		tf = defaultTable
	}
	table, err := tf(r.Context(), obj, opts)
	if err != nil {
		return nil, err
	}
	if !withColumns {
		table.ColumnDefinitions = nil
	}
	include := metav1.IncludeObjectPolicy(q.Get("includeObject"))
	if include == "" {
		include = metav1.IncludeMetadata
	}
	for i := range table.Rows {
		row := &table.Rows[i]
		item := row.Object.Object
		if item == nil {
			continue
		}
		switch include {
		case metav1.IncludeNone:
			row.Object = runtime.RawExtension{}
		case metav1.IncludeMetadata:
			m, err := meta.Accessor(item)
			if err != nil {
				return nil, err
			}
			pom := meta.AsPartialObjectMetadata(m)
			pom.APIVersion, pom.Kind = metaV1.String(), "PartialObjectMetadata"
			row.Object = runtime.RawExtension{Object: pom}
		case metav1.IncludeObject:
			data, err := h.cfg.Codecs.encode(mediaJSON, item, h.gv)
			if err != nil {
				return nil, err
			}
			row.Object = runtime.RawExtension{Raw: data}
		default:
			return nil, apierrors.NewBadRequest("includeObject must be one of None, Metadata, Object")
		}
	}
	table.APIVersion, table.Kind = metaV1.String(), "Table"
	return table, nil
}

// partialMetadata converts an object or list to PartialObjectMetadata(List).
func partialMetadata(obj runtime.Object) (runtime.Object, error) {
	if meta.IsListType(obj) {
		items, err := meta.ExtractList(obj)
		if err != nil {
			return nil, err
		}
		list := &metav1.PartialObjectMetadataList{}
		if la, err := meta.ListAccessor(obj); err == nil {
			list.ResourceVersion = la.GetResourceVersion()
			list.Continue = la.GetContinue()
			list.RemainingItemCount = la.GetRemainingItemCount()
		}
		for _, item := range items {
			m, err := meta.Accessor(item)
			if err != nil {
				return nil, err
			}
			list.Items = append(list.Items, *meta.AsPartialObjectMetadata(m))
		}
		return list, nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	return meta.AsPartialObjectMetadata(m), nil
}
