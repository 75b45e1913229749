package rest

import (
	"fmt"
	"net/http"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilnet "k8s.io/apimachinery/pkg/util/net"

	"github.com/svcnet/svcnet/internal/registry"
)

// serveConnect hands a streaming subresource request (pods/log, and
// pods/exec: GET for WebSockets, POST for SPDY) to its connector together
// with the stored object.
func (h *Handler) serveConnect(w http.ResponseWriter, r *http.Request, info RequestInfo, connect registry.Connector) {
	if connectorName(info.Subresource) == proxySubresource {
		// <name>/proxy/<path> with any method; the name may carry a scheme
		// and a port ([scheme:]name[:port]), which the connector reads.
		_, name, _, ok := utilnet.SplitSchemeNamePort(info.Name)
		if !ok {
			h.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid %s request %q",
				strings.TrimSuffix(h.gr.Resource, "s"), info.Name)), info.Name)
			return
		}
		info.Name = name
	} else if info.Verb != "get" && info.Verb != "create" {
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

// proxySubresource is the one connector subresource with a path of its
// own after its name: pods/proxy/<path>, services/proxy/<path>.
const proxySubresource = "proxy"

// connectorName is the connector serving subresource sub.
func connectorName(sub string) string {
	if strings.HasPrefix(sub, proxySubresource+"/") {
		return proxySubresource
	}
	return sub
}
