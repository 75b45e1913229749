package daemonset

import (
	"fmt"
	"strconv"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/controller/nodeaffinity"
)

// Labels written on daemon pods, as upstream.
const (
	// RevisionHashLabel holds the hash of the pod's ControllerRevision.
	RevisionHashLabel = appsv1.DefaultDaemonSetUniqueLabelKey
	// TemplateGenerationLabel holds the DaemonSet's templateGeneration
	// the pod was made from (kept for compatibility with old clients).
	TemplateGenerationLabel = extensionsv1beta1.DaemonSetTemplateGenerationKey
)

// daemonTolerations are added to every daemon pod, so node problems
// neither evict it nor keep it off a node; network-unavailable only for
// hostNetwork pods, which need no pod network.
func daemonTolerations(hostNetwork bool) []corev1.Toleration {
	tols := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		tols = append(tols, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule})
	}
	return tols
}

// addDaemonTolerations adds the daemon tolerations to spec; one the spec
// already has with the same key, operator, value and effect is replaced
// (dropping its tolerationSeconds), as upstream.
func addDaemonTolerations(spec *corev1.PodSpec) {
	for _, tol := range daemonTolerations(spec.HostNetwork) {
		replaced := false
		for i := range spec.Tolerations {
			if tol.MatchToleration(&spec.Tolerations[i]) {
				spec.Tolerations[i] = tol
				replaced = true
			}
		}
		if !replaced {
			spec.Tolerations = append(spec.Tolerations, tol)
		}
	}
}

// untoleratedTaint returns the first of taints with one of effects that
// no toleration tolerates.
func untoleratedTaint(taints []corev1.Taint, tols []corev1.Toleration, effects ...corev1.TaintEffect) (corev1.Taint, bool) {
	for _, taint := range taints {
		relevant := false
		for _, e := range effects {
			relevant = relevant || taint.Effect == e
		}
		if !relevant {
			continue
		}
		tolerated := false
		for i := range tols {
			if tols[i].ToleratesTaint(logr.Discard(), &taint, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return taint, true
		}
	}
	return corev1.Taint{}, false
}

// newPod is the pod ds would run on node, for the placement decision.
func newPod(ds *appsv1.DaemonSet, node string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = ds.Namespace
	pod.Spec.NodeName = node
	addDaemonTolerations(&pod.Spec)
	return pod
}

// shouldRun decides whether ds belongs on node: run is whether a pod
// should be started there, keep whether one already there may stay (it
// tolerates the node's NoExecute taints though not its NoSchedule ones).
func shouldRun(node *corev1.Node, ds *appsv1.DaemonSet) (run, keep bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	pod := newPod(ds, node.Name)
	if !nodeaffinity.Matches(pod, node) {
		return false, false
	}
	if _, bad := untoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute); !bad {
		return true, true
	}
	_, bad := untoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, corev1.TaintEffectNoExecute)
	return false, !bad
}

// nodeNameAffinity returns affinity with its required node affinity
// replaced by `matchFields metadata.name In [node]`, which binds the pod
// to node through the scheduler. The node was found to match the
// template's own required affinity already.
func nodeNameAffinity(affinity *corev1.Affinity, node string) *corev1.Affinity {
	sel := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return affinity
}

// targetNode returns the node a daemon pod is on or meant for: its
// spec.nodeName, else the node its matchFields affinity names.
func targetNode(pod *corev1.Pod) (string, error) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, nil
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return "", fmt.Errorf("pod %s/%s: no node and no required node affinity", pod.Namespace, pod.Name)
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, r := range term.MatchFields {
			if r.Key == metav1.ObjectNameField && r.Operator == corev1.NodeSelectorOpIn {
				if len(r.Values) != 1 {
					return "", fmt.Errorf("pod %s/%s: matchFields %s names %d nodes", pod.Namespace, pod.Name, metav1.ObjectNameField, len(r.Values))
				}
				return r.Values[0], nil
			}
		}
	}
	return "", fmt.Errorf("pod %s/%s: no node name in its node affinity", pod.Namespace, pod.Name)
}

// templateGeneration is the DaemonSet's deprecated templateGeneration
// annotation, nil when missing or malformed.
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil
	}
	gen, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &gen
}

// podTemplate is ds's pod template with the daemon tolerations and the
// revision hash and template generation labels.
func podTemplate(ds *appsv1.DaemonSet, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDaemonTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if gen := templateGeneration(ds); gen != nil {
		t.Labels[TemplateGenerationLabel] = strconv.FormatInt(*gen, 10)
	}
	if hash != "" {
		t.Labels[RevisionHashLabel] = hash
	}
	return t
}

// isUpdated reports whether pod was made from ds's current template: its
// revision hash, or its template generation, is the current one.
func isUpdated(pod *corev1.Pod, hash string, gen *int64) bool {
	if hash != "" && pod.Labels[RevisionHashLabel] == hash {
		return true
	}
	return gen != nil && pod.Labels[TemplateGenerationLabel] == strconv.FormatInt(*gen, 10)
}

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// olderFirst orders daemon pods as upstream keeps them: scheduled before
// unscheduled, then by creation time, then by name.
func olderFirst(a, b *corev1.Pod) int {
	switch {
	case a.Spec.NodeName != "" && b.Spec.NodeName == "":
		return -1
	case a.Spec.NodeName == "" && b.Spec.NodeName != "":
		return 1
	case !a.CreationTimestamp.Equal(&b.CreationTimestamp):
		if a.CreationTimestamp.Before(&b.CreationTimestamp) {
			return -1
		}
		return 1
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}
