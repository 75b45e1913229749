package nodeproxy

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/apiserver/podproxy"
	"github.com/svcnet/svcnet/internal/registry"
)

// kindKubelet is the whole kubelet API of a node, for nodes/proxy.
const kindKubelet = "kubelet"

// RegisterKubelet makes h (kubeletapi.Routes) serve nodes/proxy requests
// to the kubelet port of node, without a network hop.
func (n *Nodes) RegisterKubelet(node string, h http.Handler) { n.register(kindKubelet, node, h) }

// ProxyConnector returns the nodes/proxy connector, for URLs
// nodes/[scheme:]name[:port]/proxy/<path> with any method, as
// kube-apiserver: without a port, or with the Node's kubelet port
// (status.daemonEndpoints.kubeletEndpoint.port), the request goes to the
// node's agent (in this process when it runs here, else over HTTPS with
// the kubelet-client certificate); another port is reached at the Node's
// address with the URL's scheme (default http) and no credentials at all,
// through direct, which refuses loopback and link-local addresses.
func (n *Nodes) ProxyConnector(direct *podproxy.Proxy) registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		node, ok := obj.(*corev1.Node)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("nodes/proxy on %T", obj))
		}
		t, err := podproxy.ParseURL(r.URL.EscapedPath(), "nodes")
		if err != nil {
			return err
		}
		if podproxy.RedirectToSlash(w, r) {
			return nil
		}
		kubeletPort := node.Status.DaemonEndpoints.KubeletEndpoint.Port
		if t.Port == "" || t.Port == strconv.Itoa(int(kubeletPort)) {
			path, err := url.PathUnescape(t.Path)
			if err != nil {
				return apierrors.NewBadRequest(fmt.Sprintf("invalid path %q", t.Path))
			}
			return n.serve(w, r, kindKubelet, node.Name, path, r.URL.Query())
		}
		if _, err := strconv.ParseUint(t.Port, 10, 16); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: nodes/proxy takes a port number", t.Port))
		}
		addr := nodeAddress(node)
		if addr == "" {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", node.Name))
		}
		return direct.Forward(w, r, t, net.JoinHostPort(addr, t.Port))
	}
}

// nodeAddress is the Node's first address of the preferred type.
func nodeAddress(node *corev1.Node) string {
	for _, t := range addressTypes {
		for _, a := range node.Status.Addresses {
			if a.Type == t && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}
