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

// Nodes maps node names to the log handlers of agents in this process.
// The zero value is ready to use.
type Nodes struct {
	mu   sync.RWMutex
	logs map[string]http.Handler
	exec map[string]http.Handler
}

// RegisterLogs makes h serve /containerLogs/<ns>/<pod>/<container> for
// the pods of node.
func (n *Nodes) RegisterLogs(node string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.logs == nil {
		n.logs = map[string]http.Handler{}
	}
	n.logs[node] = h
}

func (n *Nodes) logsOf(node string) http.Handler {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.logs[node]
}

// RegisterExec makes h serve /exec/<ns>/<pod>/<container> for the pods of
// node.
func (n *Nodes) RegisterExec(node string, h http.Handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exec == nil {
		n.exec = map[string]http.Handler{}
	}
	n.exec[node] = h
}

func (n *Nodes) execOf(node string) http.Handler {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.exec[node]
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
		h := n.logsOf(pod.Spec.NodeName)
		if h == nil {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("no agent of node %q is reachable from this API server", pod.Spec.NodeName))
		}
		out := r.Clone(r.Context())
		out.URL = &url.URL{Path: "/containerLogs/" + strings.Join([]string{pod.Namespace, pod.Name, container}, "/"),
			RawQuery: url.Values{"follow": {q.Get("follow")}, "previous": {q.Get("previous")}}.Encode()}
		h.ServeHTTP(w, out)
		return nil
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
