// Package downward resolves the downward API's field paths of a pod
// (fieldRef), for environment variables and downwardAPI volume files alike.
package downward

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Addresses are the pod's and its node's IPs, which the pod object may not
// carry yet when its containers start.
type Addresses struct {
	PodIP, HostIP string
}

// FieldValue returns the value of fieldPath for pod. Whole label and
// annotation maps (downwardAPI volumes only; API validation keeps them out
// of env) are sorted key="value" lines, as kubelet writes them.
func FieldValue(pod *v1.Pod, fieldPath string, addrs Addresses) (string, error) {
	for _, m := range []struct {
		prefix string
		vals   map[string]string
	}{{"metadata.labels", pod.Labels}, {"metadata.annotations", pod.Annotations}} {
		if fieldPath == m.prefix {
			return formatMap(m.vals), nil
		}
		if rest, ok := strings.CutPrefix(fieldPath, m.prefix+"['"); ok && strings.HasSuffix(rest, "']") {
			return m.vals[strings.TrimSuffix(rest, "']")], nil
		}
	}
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return addrs.PodIP, nil
	case "status.hostIP", "status.hostIPs":
		return addrs.HostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", fieldPath)
}

func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}
