package apiserver

import (
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

// Defaults of kube-apiserver's --max-requests-inflight and
// --max-mutating-requests-inflight.
const (
	DefaultMaxRequestsInFlight         = 400
	DefaultMaxMutatingRequestsInFlight = 200
)

// privilegedGroup is exempt from the in-flight limits, as upstream exempts
// it: an administrator can always get in to fix an overloaded server.
const privilegedGroup = "system:masters"

// longRunning are the subresources whose requests hold a connection for
// as long as the client wants (streams, tunnels); like watches they are
// not counted, as kube-apiserver does not count them.
var longRunning = []string{"attach", "exec", "log", "portforward", "proxy"}

// withInFlightLimit answers 429 with Retry-After: 1 to a request that
// arrives while maxReadOnly read-only or maxMutating mutating requests are
// already being served (0: no limit of that kind). Watches, streaming
// subresources and system:masters are never limited. It must run after
// authentication, which puts the user in the request context.
func withInFlightLimit(next http.Handler, maxReadOnly, maxMutating int, codecs *rest.Codecs) http.Handler {
	if maxReadOnly <= 0 && maxMutating <= 0 {
		return next
	}
	semaphore := func(n int) chan struct{} {
		if n <= 0 {
			return nil
		}
		return make(chan struct{}, n)
	}
	readOnly, mutating := semaphore(maxReadOnly), semaphore(maxMutating)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := rest.ParseRequestInfo(r)
		sub, _, _ := strings.Cut(info.Subresource, "/")
		if info.Verb == "watch" || slices.Contains(longRunning, sub) {
			next.ServeHTTP(w, r)
			return
		}
		if u, ok := authn.FromContext(r.Context()); ok && slices.Contains(u.Groups, privilegedGroup) {
			next.ServeHTTP(w, r)
			return
		}
		sem := readOnly
		switch info.Verb {
		case "create", "update", "patch", "delete", "deletecollection":
			sem = mutating
		}
		if sem == nil {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", "1")
			rest.WriteStatus(codecs, w, r, &apierrors.NewTooManyRequests("Too many requests, please try again later.", 1).ErrStatus)
		}
	})
}
