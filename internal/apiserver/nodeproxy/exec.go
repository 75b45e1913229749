package nodeproxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/registry"
)

// ExecConnector returns the pods/exec connector. It checks the request
// as kube-apiserver does (a command, at least one stream, a running pod
// bound to a node) and hands the request, upgrade headers included, to
// the agent of the pod's node.
func (n *Nodes) ExecConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("pods/exec on %T", obj))
		}
		q := r.URL.Query()
		container, err := Container(pod, q.Get("container"))
		if err != nil {
			return err
		}
		if len(q["command"]) == 0 {
			return apierrors.NewBadRequest("you must specify at least one command for the container")
		}
		on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
		if !on("stdin") && !on("stdout") && !on("stderr") {
			return apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s",
				pod.Status.Phase))
		}
		if pod.Spec.NodeName == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
		}
		h := n.execOf(pod.Spec.NodeName)
		if h == nil {
			return apierrors.NewServiceUnavailable(fmt.Sprintf("no agent of node %q is reachable from this API server", pod.Spec.NodeName))
		}
		fwd := url.Values{"command": q["command"]}
		for _, k := range []string{"stdin", "stdout", "stderr", "tty"} {
			fwd.Set(k, fmt.Sprint(on(k)))
		}
		out := r.Clone(r.Context())
		out.URL = &url.URL{Path: "/exec/" + strings.Join([]string{pod.Namespace, pod.Name, container}, "/"),
			RawQuery: fwd.Encode()}
		h.ServeHTTP(w, out)
		return nil
	}
}
