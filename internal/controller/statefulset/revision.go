package statefulset

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Labels written on pods and revisions, as upstream.
const (
	PodNameLabel      = appsv1.StatefulSetPodNameLabel
	PodIndexLabel     = appsv1.PodIndexLabel
	RevisionHashLabel = appsv1.ControllerRevisionHashLabelKey
	hashLabel         = "controller.kubernetes.io/hash"
)

// patchData is the revision content: a strategic merge patch that puts
// the set's template back (what kubectl rollout undo applies).
func patchData(set *appsv1.StatefulSet) ([]byte, error) {
	raw, err := json.Marshal(set.Spec.Template)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// revisionHash is the FNV-32a hash of data and collisionCount, rendered
// with rand.SafeEncodeString.
func revisionHash(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(*collisionCount))
		h.Write(b[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}

// newRevision returns the ControllerRevision of set's current template.
func newRevision(set *appsv1.StatefulSet, number int64) (*appsv1.ControllerRevision, error) {
	data, err := patchData(set)
	if err != nil {
		return nil, fmt.Errorf("revision data: %w", err)
	}
	hash := revisionHash(data, set.Status.CollisionCount)
	lbls := map[string]string{}
	for k, v := range set.Spec.Template.Labels {
		lbls[k] = v
	}
	lbls[hashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            set.Name + "-" + hash,
			Namespace:       set.Namespace,
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(set, kind())},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: number,
	}, nil
}
