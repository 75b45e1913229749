package storage

import (
	"errors"
	"fmt"
)

// Sentinel errors. Implementations wrap them (with %w) so callers test with
// errors.Is or the predicates below.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("object has been modified")
	ErrGone     = errors.New("resource version too old")
	// ErrReserved is wrapped by *ReservedError.
	ErrReserved            = errors.New("key already reserved")
	ErrInvalidPrecondition = errors.New("precondition failed")
	// ErrInsufficientStorage refuses a write while the disk under the
	// store is (nearly) full.
	ErrInsufficientStorage = errors.New("insufficient storage")
)

// ReservedError says which reservation key was already taken.
type ReservedError struct{ Key string }

func (e *ReservedError) Error() string { return fmt.Sprintf("%s: %s", ErrReserved, e.Key) }
func (e *ReservedError) Unwrap() error { return ErrReserved }

// IsNotFound reports whether err means the key does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsExists reports whether err means the key already exists.
func IsExists(err error) bool { return errors.Is(err, ErrExists) }

// IsConflict reports whether err is an optimistic-concurrency conflict.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsGone reports whether err means a revision was compacted.
func IsGone(err error) bool { return errors.Is(err, ErrGone) }

// IsReserved reports whether err means a reservation key was taken.
func IsReserved(err error) bool { return errors.Is(err, ErrReserved) }

// IsInvalidPrecondition reports whether a UID or resourceVersion precondition failed.
func IsInvalidPrecondition(err error) bool { return errors.Is(err, ErrInvalidPrecondition) }

// IsInsufficientStorage reports whether err refused a write for lack of
// disk space.
func IsInsufficientStorage(err error) bool { return errors.Is(err, ErrInsufficientStorage) }
