package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// serveReview answers a create of a virtual resource (SelfSubjectReview)
// with its Review result, 201, storing nothing. Every other request gets
// 405, as kube-apiserver answers for these create-only resources.
func (h *Handler) serveReview(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	if info.Verb != "create" || info.Name != "" || info.Subresource != "" {
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, info.Verb), info.Name)
		return
	}
	wr, err := h.parseWrite(r, info)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	obj, warnings, err := h.decodeObject(r, body, wr.validation)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	out, err := h.res.Review(ctx, obj)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	addWarnings(w, warnings)
	h.writeObject(w, r, http.StatusCreated, out)
}
