package rest

import (
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/registry"
)

// serveConnect hands a streaming subresource request (pods/log, and
// pods/exec: GET for WebSockets, POST for SPDY) to its connector together
// with the stored object.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request, info RequestInfo, connect registry.Connector) {
	if info.Verb != "get" && info.Verb != "create" {
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, info.Verb), info.Name)
		return
	}
	obj := h.res.New()
	ctx, cancel := requestContext(r)
	err := h.cfg.Store.Get(ctx, h.key(info.Namespace, info.Name), obj)
	cancel()
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	if err := connect(w, r, obj); err != nil {
		h.writeError(w, r, err, info.Name)
	}
}
