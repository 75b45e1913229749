package replicaset

import (
	"github.com/svcnet/svcnet/internal/controller/ownedpods"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// IsPodActive reports whether pod still counts as a replica: it is not
// terminating and has not finished.
func IsPodActive(pod *corev1.Pod) bool {
	return pod.DeletionTimestamp == nil &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// podPrefix is the generateName of the pods of controller name: "name-",
// or the name alone when the dash would make it too long.
func podPrefix(name string) string {
	prefix := name + "-"
	if len(validation.IsDNS1123Subdomain(prefix+"xxxxx")) != 0 {
		return name
	}
	return prefix
}

// podFromTemplate builds a pod of template controlled by owner.
func podFromTemplate(template *corev1.PodTemplateSpec, owner *metav1.OwnerReference, namespace, generateName string) *corev1.Pod {
	t := template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: generateName,
			Namespace:    namespace,
			Labels:       t.Labels,
			Annotations:  t.Annotations,
			Finalizers:   t.Finalizers,
		},
		Spec: t.Spec,
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return pod
}

// phaseRank orders pods by how far they got: Pending < Unknown < Running.
func phaseRank(p corev1.PodPhase) int {
	switch p {
	case corev1.PodPending:
		return 0
	case corev1.PodUnknown:
		return 1
	case corev1.PodRunning:
		return 2
	}
	return 0
}

func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}

// deleteFirst orders pods by how cheap they are to lose, as upstream's
// ActivePods ranking (without the co-location rank): unassigned before
// assigned, Pending before Unknown before Running, not ready before ready,
// ready for less time first, more restarts first, newer first.
func deleteFirst(a, b *corev1.Pod) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if ra, rb := phaseRank(a.Status.Phase), phaseRank(b.Status.Phase); ra != rb {
		return ra < rb
	}
	if ra, rb := ownedpods.IsReady(a), ownedpods.IsReady(b); ra != rb {
		return !ra
	}
	if ownedpods.IsReady(a) {
		ta, tb := ownedpods.ReadyCondition(a).LastTransitionTime, ownedpods.ReadyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
	}
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}
