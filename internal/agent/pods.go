package agent

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// PodsHandler serves kubelet's /pods: the pods bound to the node, as the
// agent's cache holds them, as a v1 PodList.
func (a *Agent) PodsHandler() http.Handler {
	lister := a.podInf.Core().V1().Pods().Lister()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		pods, err := lister.List(labels.Everything())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		list := corev1.PodList{Items: make([]corev1.Pod, 0, len(pods))}
		list.Kind, list.APIVersion = "PodList", "v1"
		for _, p := range pods {
			item := *p.DeepCopy()
			item.Kind, item.APIVersion = "Pod", "v1"
			list.Items = append(list.Items, item)
		}
		slices.SortFunc(list.Items, func(x, y corev1.Pod) int {
			return strings.Compare(x.Namespace+"/"+x.Name, y.Namespace+"/"+y.Name)
		})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(&list)
	})
}
