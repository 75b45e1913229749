package etcd3

import (
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/svcnet/svcnet/internal/storage"
)

// goneError is storage.ErrGone with the message kube-apiserver shows.
type goneError struct{ msg string }

func (e *goneError) Error() string { return e.msg }
func (e *goneError) Unwrap() error { return storage.ErrGone }

func errListTooOld() error {
	return &goneError{msg: "The resourceVersion for the provided list is too old."}
}

func errContinueTooOld() error {
	return &goneError{msg: "The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter."}
}

func errWatchTooOld(rv, compacted int64) error {
	if compacted > 0 {
		return &goneError{msg: fmt.Sprintf("too old resource version: %d (%d)", rv, compacted)}
	}
	return &goneError{msg: fmt.Sprintf("too old resource version: %d", rv)}
}

// errTooLargeRV is kube-apiserver's answer to a request for a revision the
// store has not reached: 504 with the ResourceVersionTooLarge cause, which
// client-go's reflector recognises and retries.
func errTooLargeRV(want, current int64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	}}
	return err
}

func errBadRV(rv string) error {
	return apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %q", rv))
}

func isCompacted(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) }

func isFutureRev(err error) bool { return errors.Is(err, rpctypes.ErrFutureRev) }

func isLeaseNotFound(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }

// preconditionError is storage.ErrInvalidPrecondition with upstream's
// message.
type preconditionError struct{ what, want, got string }

func (e *preconditionError) Error() string {
	return fmt.Sprintf("Precondition failed: %s in precondition: %s, %s in object meta: %s", e.what, e.want, e.what, e.got)
}
func (e *preconditionError) Unwrap() error { return storage.ErrInvalidPrecondition }
