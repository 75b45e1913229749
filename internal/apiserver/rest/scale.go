package rest

import (
	"net/http"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/svcnet/svcnet/internal/storage"
)

var autoscalingV1 = autoscalingv1.SchemeGroupVersion

// serveScale serves the scale subresource (autoscaling/v1 Scale) over
// the resource's ScaleAccessor.
func (h *Handler) serveScale(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	ctx, cancel := requestContext(r)
	defer cancel()
	switch info.Verb {
	case "get":
		obj := h.res.New()
		if err := h.cfg.Store.Get(ctx, h.key(info.Namespace, info.Name), obj); err != nil {
			h.writeError(w, r, err, info.Name)
			return
		}
		h.writeScale(w, r, h.scaleOf(obj))
	case "update", "patch":
		wr, err := h.parseWrite(r, info)
		if err != nil {
			h.writeError(w, r, err, info.Name)
			return
		}
		wr.sub = ""
		body, err := readBody(r)
		if err != nil {
			h.writeError(w, r, err, info.Name)
			return
		}
		out, _, err := h.updateObject(ctx, info, wr, false, func(cur runtime.Object, _ bool) (runtime.Object, error) {
			scale, err := h.desiredScale(r, info, cur, body)
			if err != nil {
				return nil, err
			}
			curScale := h.scaleOf(cur)
			if scale.ResourceVersion != "" && scale.ResourceVersion != curScale.ResourceVersion {
				return nil, storage.ErrConflict
			}
			obj := cur.DeepCopyObject()
			h.res.Scale.Set(obj, scale.Spec.Replicas)
			acc, _ := meta.Accessor(obj)
			acc.SetResourceVersion("")
			return obj, nil
		})
		if err != nil {
			h.writeError(w, r, err, info.Name)
			return
		}
		h.writeScale(w, r, h.scaleOf(out))
	default:
		h.writeError(w, r, apierrors.NewMethodNotSupported(h.gr, info.Verb), info.Name)
	}
}

// desiredScale decodes the Scale a request asks for.
func (h *Handler) desiredScale(r *http.Request, info RequestInfo, cur runtime.Object, body []byte) (*autoscalingv1.Scale, error) {
	data := body
	if info.Verb == "patch" {
		original, err := h.cfg.Codecs.encode(mediaJSON, h.scaleOf(cur), autoscalingV1)
		if err != nil {
			return nil, err
		}
		if data, err = applyPatch(types.PatchType(bodyMediaType(r)), original, body, &autoscalingv1.Scale{}); err != nil {
			return nil, err
		}
	}
	mt := mediaJSON
	if info.Verb == "update" {
		mt = bodyMediaType(r)
	}
	obj, _, err := h.cfg.Codecs.decodeBody(mt, data, &autoscalingv1.Scale{}, metav1.FieldValidationIgnore)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	scale, ok := obj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest("expected an autoscaling/v1 Scale")
	}
	if scale.Spec.Replicas < 0 {
		return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), info.Name,
			field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas,
				"must be greater than or equal to 0")})
	}
	return scale, nil
}

func (h *Handler) scaleOf(obj runtime.Object) *autoscalingv1.Scale {
	acc, _ := meta.Accessor(obj)
	spec, status, selector := h.res.Scale.Get(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{APIVersion: autoscalingV1.String(), Kind: "Scale"},
		ObjectMeta: metav1.ObjectMeta{
			Name: acc.GetName(), Namespace: acc.GetNamespace(), UID: acc.GetUID(),
			ResourceVersion: acc.GetResourceVersion(), CreationTimestamp: acc.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
}

func (h *Handler) writeScale(w http.ResponseWriter, r *http.Request, scale *autoscalingv1.Scale) {
	a, err := negotiate(r)
	if err != nil || a.kind != outputObject {
		a = accepted{mediaType: mediaJSON}
	}
	data, err := h.cfg.Codecs.encode(a.mediaType, scale, autoscalingV1)
	if err != nil {
		h.writeError(w, r, err, scale.Name)
		return
	}
	w.Header().Set("Content-Type", a.mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
