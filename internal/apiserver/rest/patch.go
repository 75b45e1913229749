package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"
)

// Patch media types.
const (
	mediaApplyYAML = "application/apply-patch+yaml"
	mediaApplyCBOR = "application/apply-patch+cbor"
)

func (h *Handler) patch(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	wr, err := h.parseWrite(r, info)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	body, err := readBody(r)
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	mt := bodyMediaType(r)
	ctx, cancel := requestContext(r)
	defer cancel()

	var (
		out      runtime.Object
		created  bool
		warnings []string
	)
	switch types.PatchType(mt) {
	case types.ApplyYAMLPatchType:
		out, created, err = h.apply(ctx, r, info, wr, body)
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		out, created, err = h.updateObject(ctx, info, wr, false, func(cur runtime.Object, _ bool) (runtime.Object, error) {
			obj, w, err := h.patchObject(types.PatchType(mt), cur, body, wr.validation)
			warnings = w
			return obj, err
		})
	case mediaApplyCBOR:
		err = apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", h.gr, info.Name,
			"apply patches are accepted as application/apply-patch+yaml", 0, false)
	default:
		err = apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", h.gr, info.Name,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
				types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType), 0, false)
	}
	if err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	addWarnings(w, warnings)
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	h.writeObject(w, r, code, out)
}

// patchObject applies a JSON, merge or strategic-merge patch to cur and
// decodes the result as a new object of this resource.
func (h *Handler) patchObject(pt types.PatchType, cur runtime.Object, patch []byte, validation string) (runtime.Object, []string, error) {
	original, err := h.cfg.Codecs.encode(mediaJSON, cur, h.gv)
	if err != nil {
		return nil, nil, err
	}
	patched, err := applyPatch(pt, original, patch, h.res.New())
	if err != nil {
		return nil, nil, err
	}
	obj, warnings, err := h.cfg.Codecs.decodeBody(mediaJSON, patched, h.res.New(), validation)
	if err != nil {
		if apierrors.IsBadRequest(err) {
			return nil, nil, err
		}
		return nil, nil, apierrors.NewBadRequest(err.Error())
	}
	h.res.Strategy.Default(obj)
	return obj, warnings, nil
}

// Bounds of a JSON patch, as kube-apiserver sets them against patch bombs
// (CVE-2019-1002100): a patch of a few "copy" operations can double the
// document with each one, so the operations are counted and the bytes
// copies add may not exceed what one request body may hold.
const maxJSONPatchOperations = 10000

// applyPatch applies a patch of type pt to the JSON document original;
// schema is an empty object of the patched type (for strategic merge).
func applyPatch(pt types.PatchType, original, patch []byte, dataStruct interface{}) ([]byte, error) {
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if len(p) > maxJSONPatchOperations {
			return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
				"The allowed maximum operations in a JSON patch is %d, got %d", maxJSONPatchOperations, len(p)))
		}
		opts := jsonpatch.NewApplyOptions()
		opts.AccumulatedCopySizeLimit = MaxRequestBodyBytes
		out, err := p.ApplyWithOptions(original, opts)
		var tooLarge *jsonpatch.AccumulatedCopySizeError
		if errors.As(err, &tooLarge) {
			return nil, apierrors.NewRequestEntityTooLargeError(err.Error())
		}
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		var patchMap map[string]interface{}
		if err := json.Unmarshal(patch, &patchMap); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, dataStruct)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	}
	return nil, apierrors.NewBadRequest(fmt.Sprintf("unsupported patch type %q", pt))
}

// apply runs server-side apply: the applied configuration is merged into
// the live object by the field manager, which records ownership and
// reports conflicts (409) unless force=true.
func (h *Handler) apply(ctx context.Context, r *http.Request, info RequestInfo, wr writeRequest, body []byte) (runtime.Object, bool, error) {
	fm := h.managers[wr.sub]
	if fm == nil {
		return nil, false, apierrors.NewBadRequest("server-side apply is not supported for " + h.gr.String())
	}
	if r.URL.Query().Get("fieldManager") == "" {
		return nil, false, apierrors.NewBadRequest("PATCH, application/apply-patch+yaml requires fieldManager to be set")
	}
	force := r.URL.Query().Get("force") == "true"
	applied, err := decodeApplied(body)
	if err != nil {
		return nil, false, err
	}
	gvk := h.res.GroupVersionKind()
	if applied.GroupVersionKind() != gvk {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf(
			"the API version in the data (%s) does not match the expected API version (%s)", applied.GetAPIVersion(), h.gv))
	}
	if err := h.checkNamespaceAndName(applied, info); err != nil {
		return nil, false, err
	}
	return h.updateObjectTracked(ctx, info, wr, wr.sub == "", true, func(cur runtime.Object, exists bool) (runtime.Object, error) {
		live := cur
		if !exists {
			live = h.res.New()
		}
		merged, err := fm.Apply(live, applied.DeepCopy(), wr.manager, force)
		if err != nil {
			return nil, err
		}
		obj := h.res.New()
		copyInto(obj, merged)
		h.res.Strategy.Default(obj)
		return obj, nil
	})
}

// decodeApplied reads an apply configuration (YAML or JSON).
func decodeApplied(body []byte) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding apply configuration: %v", err))
	}
	return u, nil
}
