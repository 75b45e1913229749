package nodeproxy

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
		fwd := url.Values{"command": q["command"]}
		for _, k := range []string{"stdin", "stdout", "stderr", "tty"} {
			fwd.Set(k, fmt.Sprint(on(k)))
		}
		return n.serve(w, r, kindExec, pod.Spec.NodeName,
			"/exec/"+strings.Join([]string{pod.Namespace, pod.Name, container}, "/"), fwd)
	}
}

// AttachConnector returns the pods/attach connector: as pods/exec
// without a command, to /attach/<ns>/<pod>/<container> of the agent.
func (n *Nodes) AttachConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("pods/attach on %T", obj))
		}
		q := r.URL.Query()
		container, err := Container(pod, q.Get("container"))
		if err != nil {
			return err
		}
		on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
		if !on("stdin") && !on("stdout") && !on("stderr") {
			return apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot attach to a container in a completed pod; current phase is %s",
				pod.Status.Phase))
		}
		if pod.Spec.NodeName == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
		}
		fwd := url.Values{}
		for _, k := range []string{"stdin", "stdout", "stderr", "tty"} {
			fwd.Set(k, fmt.Sprint(on(k)))
		}
		return n.serve(w, r, kindAttach, pod.Spec.NodeName,
			"/attach/"+strings.Join([]string{pod.Namespace, pod.Name, container}, "/"), fwd)
	}
}

// PortForwardConnector returns the pods/portforward connector: the
// request, upgrade headers included, goes to /portForward/<ns>/<pod> of
// the agent of the pod's node.
func (n *Nodes) PortForwardConnector() registry.Connector {
	return func(w http.ResponseWriter, r *http.Request, obj runtime.Object) error {
		pod, ok := obj.(*corev1.Pod)
		if !ok {
			return apierrors.NewInternalError(fmt.Errorf("pods/portforward on %T", obj))
		}
		if pod.Spec.NodeName == "" {
			return apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
		}
		fwd := url.Values{}
		for _, p := range r.URL.Query()["ports"] {
			port, err := strconv.ParseUint(p, 10, 16)
			if err != nil || port == 0 {
				return apierrors.NewBadRequest(fmt.Sprintf("invalid port %q: must be between 1 and 65535", p))
			}
			fwd.Add("ports", p)
		}
		return n.serve(w, r, kindPortForward, pod.Spec.NodeName, "/portForward/"+pod.Namespace+"/"+pod.Name, fwd)
	}
}
