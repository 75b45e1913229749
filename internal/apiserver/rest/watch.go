package rest

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/svcnet/svcnet/internal/storage"
)

// Watch timeouts: like kube-apiserver, a watch without timeoutSeconds
// ends after a random 30-60 minutes so clients spread their re-lists.
const minWatchTimeout = 30 * time.Minute

func (h *Handler) watch(w http.ResponseWriter, r *http.Request, info RequestInfo) {
	opts, err := h.listOptions(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	if errs := validateWatchOptions(opts); len(errs) > 0 {
		h.writeError(w, r, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", errs), "")
		return
	}
	pred, err := h.predicate(opts)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	a, err := negotiate(r)
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	timeout := minWatchTimeout + time.Duration(rand.Int64N(int64(minWatchTimeout)))
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	prefix, recursive := h.listPrefix(info.Namespace), true
	if info.Name != "" {
		prefix, recursive = h.key(info.Namespace, info.Name), false
	}
	wi, err := h.cfg.Store.Watch(ctx, prefix, storage.WatchOptions{
		ResourceVersion:   opts.ResourceVersion,
		Recursive:         recursive,
		Predicate:         pred,
		SendInitialEvents: opts.SendInitialEvents != nil && *opts.SendInitialEvents,
		AllowBookmarks:    opts.AllowWatchBookmarks,
		NewObject:         h.res.New,
	})
	if err != nil {
		h.writeError(w, r, err, "")
		return
	}
	defer wi.Stop()

	// Watch events are always JSON framed by newlines; every Kubernetes
	// client decodes the stream by its Content-Type.
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	enc := json.NewEncoder(w)
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			raw, err := h.watchObject(r, a, ev, first)
			if err != nil {
				h.logger.Error("Encoding watch event failed", "resource", h.gr.String(), "err", err)
				return
			}
			if ev.Type == watch.Added || ev.Type == watch.Modified || ev.Type == watch.Deleted {
				first = false
			}
			if err := enc.Encode(metav1.WatchEvent{Type: string(ev.Type), Object: runtime.RawExtension{Raw: raw}}); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			if ev.Type == watch.Error {
				return
			}
		}
	}
}

// watchObject encodes the object of one event in the negotiated form.
func (h *Handler) watchObject(r *http.Request, a accepted, ev watch.Event, first bool) ([]byte, error) {
	if ev.Type == watch.Error {
		status, ok := ev.Object.(*metav1.Status)
		if !ok {
			status = &apierrors.NewInternalError(nil).ErrStatus
		}
		status.Kind, status.APIVersion = "Status", "v1"
		return h.cfg.Codecs.encode(mediaJSON, status, coreV1)
	}
	switch {
	case a.kind == outputTable && ev.Type != watch.Bookmark:
		table, err := h.table(r, ev.Object, first)
		if err != nil {
			return nil, err
		}
		return h.cfg.Codecs.encode(mediaJSON, table, metaV1)
	case a.kind == outputPartialMetadata:
		pom, err := partialMetadata(ev.Object)
		if err != nil {
			return nil, err
		}
		return h.cfg.Codecs.encode(mediaJSON, pom, metaV1)
	}
	return h.cfg.Codecs.encode(mediaJSON, ev.Object, h.gv)
}

// validateWatchOptions applies kube-apiserver's rules for
// sendInitialEvents (streaming lists).
func validateWatchOptions(opts *metav1.ListOptions) field.ErrorList {
	var errs field.ErrorList
	if opts.SendInitialEvents == nil {
		if opts.ResourceVersionMatch != "" {
			errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"),
				"resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		}
		return errs
	}
	if opts.ResourceVersionMatch != metav1.ResourceVersionMatchNotOlderThan {
		errs = append(errs, field.Forbidden(field.NewPath("resourceVersionMatch"),
			"sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
	}
	if !opts.AllowWatchBookmarks {
		errs = append(errs, field.Forbidden(field.NewPath("allowWatchBookmarks"),
			"sendInitialEvents requires setting allowWatchBookmarks to true"))
	}
	return errs
}
