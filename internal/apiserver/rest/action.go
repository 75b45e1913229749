package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// serveAction runs a POST-only subresource (pods/binding) as one update
// of the stored object and answers with a Success Status, as
// kube-apiserver does for bindings.
func (h *Handler) serveAction(w http.ResponseWriter, r *http.Request, info RequestInfo, action registry.Action) {
	if info.Verb != "create" {
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, info.Verb), info.Name)
		return
	}
	wr, req, _, err := h.readWrite(r, info, action.New)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	wr.sub = info.Subresource
	ctx, cancel := requestContext(r)
	defer cancel()
	_, _, err = h.updateObject(ctx, info, wr, false, func(cur runtime.Object, _ bool) (runtime.Object, error) {
		obj := cur.DeepCopyObject()
		if err := action.Apply(obj, req); err != nil {
			return nil, err
		}
		acc, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		acc.SetResourceVersion("")
		return obj, nil
	})
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	WriteStatus(h.cfg.Codecs, w, r, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}
