package rest

import (
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/svcnet/svcnet/internal/storage"
)

// StatusFor converts any error of the request pipeline into the
// metav1.Status the client sees. It is the one place where storage errors
// become HTTP errors.
func StatusFor(err error, gr schema.GroupResource, name string) *metav1.Status {
	var apiStatus apierrors.APIStatus
	if errors.As(err, &apiStatus) {
		s := apiStatus.Status()
		return &s
	}
	var se *apierrors.StatusError
	if errors.As(err, &se) {
		return &se.ErrStatus
	}
	switch {
	case storage.IsNotFound(err):
		return &apierrors.NewNotFound(gr, name).ErrStatus
	case storage.IsExists(err):
		return &apierrors.NewAlreadyExists(gr, name).ErrStatus
	case storage.IsConflict(err):
		return &apierrors.NewConflict(gr, name,
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again")).ErrStatus
	case storage.IsInvalidPrecondition(err):
		return &apierrors.NewConflict(gr, name, err).ErrStatus
	case storage.IsGone(err):
		return &apierrors.NewResourceExpired(err.Error()).ErrStatus
	case storage.IsInsufficientStorage(err):
		// 507, as WebDAV defines it; reads go on and writes resume once
		// space is freed.
		return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInsufficientStorage,
			Reason: metav1.StatusReason("InsufficientStorage"), Message: err.Error()}
	case runtime.IsStrictDecodingError(err):
		return &apierrors.NewBadRequest(err.Error()).ErrStatus
	case runtime.IsNotRegisteredError(err), runtime.IsMissingKind(err), runtime.IsMissingVersion(err):
		return &apierrors.NewBadRequest(err.Error()).ErrStatus
	}
	return &apierrors.NewInternalError(err).ErrStatus
}

// statusCode is the HTTP code of s, defaulting to 500.
func statusCode(s *metav1.Status) int {
	if s.Code == 0 {
		return http.StatusInternalServerError
	}
	return int(s.Code)
}
