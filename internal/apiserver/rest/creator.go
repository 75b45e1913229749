package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/registry"
)

// serveCreator runs a POST-only subresource that answers with an object of
// its own (serviceaccounts/token): 201 with the creator's answer, encoded
// in the creator's API version. The stored object is only read.
func (h *Handler) serveCreator(w http.ResponseWriter, r *http.Request, info RequestInfo, c registry.Creator) {
	if info.Verb != "create" {
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, info.Verb), info.Name)
		return
	}
	_, req, warnings, err := h.readWrite(r, info, c.New)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	cur := h.res.New()
	if err := h.cfg.Store.Get(ctx, h.key(info.Namespace, info.Name), cur); err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	if err := h.admit(ctx, registry.Create, info.Subresource, req, cur, isDryRun(r)); err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	out, err := c.Create(ctx, cur, req)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	a, err := negotiate(r)
	if err != nil || a.kind != outputObject {
		a = accepted{mediaType: mediaJSON}
	}
	data, err := h.cfg.Codecs.encode(a.mediaType, out, c.GroupVersion)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	addWarnings(w, warnings)
	w.Header().Set("Content-Type", a.mediaType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(data)
}
