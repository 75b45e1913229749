package nodeproxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// defaultContainerAnnotation names the container kubectl picks by default.
const defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"

// Kinds of node handlers.
const (
	kindLogs        = "logs"
	kindExec        = "exec"
	kindAttach      = "attach"
	kindPortForward = "portForward"
)

// Nodes reaches the agents of nodes: the handlers of agents in this
// process by node name, and, once SetRemote is called, any other agent
// over the network. The zero value is ready to use.
type Nodes struct {
	mu       sync.RWMutex
	handlers map[string]map[string]http.Handler // kind -> node -> handler
	remote   *remote
}

func (n *Nodes) register(kind, node string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.handlers == nil {
		n.handlers = map[string]map[string]http.Handler{}
	}
	if n.handlers[kind] == nil {
		n.handlers[kind] = map[string]http.Handler{}
	}
	n.handlers[kind][node] = h
}

func (n *Nodes) handler(kind, node string) (http.Handler, *remote) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.handlers[kind][node], n.remote
}

// RegisterLogs makes h serve /containerLogs/<ns>/<pod>/<container> for
// the pods of node.
func (n *Nodes) RegisterLogs(node string, h http.Handler) { n.register(kindLogs, node, h) }

// RegisterExec makes h serve /exec/<ns>/<pod>/<container> for the pods of
// node.
func (n *Nodes) RegisterExec(node string, h http.Handler) { n.register(kindExec, node, h) }

// RegisterAttach makes h serve /attach/<ns>/<pod>/<container> for the
// pods of node.
func (n *Nodes) RegisterAttach(node string, h http.Handler) { n.register(kindAttach, node, h) }

// RegisterPortForward makes h serve /portForward/<ns>/<pod> for the pods
// of node.
func (n *Nodes) RegisterPortForward(node string, h http.Handler) {
	n.register(kindPortForward, node, h)
}

// serve hands r, rewritten to path and query, to the agent of node:
// in-process when registered, else over the network.
func (n *Nodes) serve(w http.ResponseWriter, r *http.Request, kind, node, path string, query url.Values) error {
	h, rem := n.handler(kind, node)
	if h != nil {
		out := r.Clone(r.Context())
		out.URL = &url.URL{Path: path, RawQuery: query.Encode()}
		out.RequestURI = out.URL.RequestURI()
		h.ServeHTTP(w, out)
		return nil
	}
	if rem == nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("no agent of node %q is reachable from this API server", node))
	}
	base, err := rem.location(r.Context(), node)
	if err != nil {
		return err
	}
	target := *base
	target.Path, target.RawQuery = path, query.Encode()
	if kind == kindLogs {
		return rem.stream(w, r, node, &target)
	}
	return rem.proxy(w, r, node, &target)
}

// LogConnector returns the pods/log connector.
func (n *Nodes) LogConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("pods/log on %T", obj))
		}
		q := r.URL.Query()
		container, err := Container(pod, q.Get("container"))
		if err != nil {
			return err
		}
		if pod.Spec.NodeName == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
		}
		fwd := url.Values{"follow": {q.Get("follow")}, "previous": {q.Get("previous")}}
		for _, k := range []string{"tailLines", "limitBytes", "sinceSeconds", "sinceTime", "timestamps"} {
			if v := q.Get(k); v != "" {
				fwd.Set(k, v)
			}
		}
		return n.serve(w, r, kindLogs, pod.Spec.NodeName,
			"/containerLogs/"+strings.Join([]string{pod.Namespace, pod.Name, container}, "/"), fwd)
	}
}

// Container resolves the container a request names, as kube-apiserver
// does: the named one, else the default-container annotation, else the
// only container.
func Container(pod *corev1.Pod, name string) (string, error) {
	all := make([]string, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers))
	for _, c := range pod.Spec.InitContainers {
		all = append(all, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		all = append(all, c.Name)
	}
	if name == "" {
		name = pod.Annotations[defaultContainerAnnotation]
	}
	if name == "" {
		if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v",
			pod.Name, all))
	}
	for _, c := range all {
		if c == name {
			return name, nil
		}
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}
