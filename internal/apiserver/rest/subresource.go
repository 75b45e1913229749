package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serveUpdateSubresource serves one of Resource.UpdateSubresources
// (certificatesigningrequests/approval): get, update and patch of the whole
// object, written under the subresource's own strategy (prepareUpdate).
func (h *Handler) serveUpdateSubresource(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	switch info.Verb {
	case "get":
		h.get(w, r, info)
	case "update":
		h.update(w, r, info)
	case "patch":
		h.patch(w, r, info)
	default:
		gr := schema.GroupResource{Group: h.gr.Group, Resource: h.gr.Resource + "/" + info.Subresource}
		h.writeError(w, r, apierrors.NewMethodNotSupported(gr, info.Verb), info.Name)
	}
}
