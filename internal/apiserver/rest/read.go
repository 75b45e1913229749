package rest

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/svcnet/svcnet/internal/storage"
)

func (h *Handler) get(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	ctx, cancel := requestContext(r)
	defer cancel()
	obj := h.res.New()
	if err := h.cfg.Store.Get(ctx, h.key(info.Namespace, info.Name), obj); err != nil {
		h.writeError(w, r, err, info.Name)
		return
	}
	h.writeObject(w, r, http.StatusOK, obj)
}

// listOptions decodes the query parameters of a list or watch.
func (h *Handler) listOptions(r *http.Request) (*metav1.ListOptions, error) {
	var opts metav1.ListOptions
	q := r.URL.Query()
	if err := metav1.Convert_url_Values_To_v1_ListOptions(&q, &opts, nil); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return &opts, nil
}

// fieldsOf is the field set used for field selectors.
func (h *Handler) fieldsOf(obj runtime.Object) (fields.Set, error) {
	if h.res.Fields != nil {
		return h.res.Fields(obj), nil
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	set := fields.Set{"metadata.name": m.GetName()}
	if h.namespace {
		set["metadata.namespace"] = m.GetNamespace()
	}
	return set, nil
}

// predicate builds the filter of label and field selectors. Field
// selectors on fields the resource does not support are refused as
// kube-apiserver does.
func (h *Handler) predicate(opts *metav1.ListOptions) (func(runtime.Object) (bool, error), error) {
	ls := labels.Everything()
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
		ls = sel
	}
	fs := fields.Everything()
	if opts.FieldSelector != "" {
		sel, err := fields.ParseSelector(opts.FieldSelector)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		supported, err := h.fieldsOf(h.res.New())
		if err != nil {
			return nil, err
		}
		for _, req := range sel.Requirements() {
			if _, ok := supported[req.Field]; !ok {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
		fs = sel
	}
	if ls.Empty() && fs.Empty() {
		return nil, nil
	}
	return func(obj runtime.Object) (bool, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return false, err
		}
		if !ls.Matches(labels.Set(m.GetLabels())) {
			return false, nil
		}
		if fs.Empty() {
			return true, nil
		}
		set, err := h.fieldsOf(obj)
		if err != nil {
			return false, err
		}
		return fs.Matches(set), nil
	}, nil
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	opts, err := h.listOptions(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	pred, err := h.predicate(opts)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	ctx, cancel := requestContext(r)
	defer cancel()
	list := h.newList()
	err = h.cfg.Store.GetList(ctx, h.listPrefix(info.Namespace), storage.ListOptions{
		ResourceVersion:      opts.ResourceVersion,
		ResourceVersionMatch: string(opts.ResourceVersionMatch),
		Limit:                opts.Limit,
		Continue:             opts.Continue,
		Predicate:            pred,
	}, list)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	h.writeObject(w, r, http.StatusOK, list)
}
