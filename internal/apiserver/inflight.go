package apiserver

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

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

// DefaultMaxWatchesPerUser bounds the watches one user holds open at once
// (svcnet's --max-watches-per-user): a node or controller opens a few
// dozen, so the bound only stops a client that opens watches without end,
// each of which costs the server memory for as long as it lasts.
const DefaultMaxWatchesPerUser = 500

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

// withWatchLimit answers 429 to a watch of a user who already holds max
// open watches (0: no limit). system:masters is exempt; every node has
// an identity of its own (system:node:<name>), so the bound does not cap
// the cluster's size. It must run after authentication.
func withWatchLimit(next http.Handler, max int, codecs *rest.Codecs) http.Handler {
	if max <= 0 {
		return next
	}
	var mu sync.Mutex
	open := map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := authn.FromContext(r.Context())
		if !ok || slices.Contains(u.Groups, privilegedGroup) ||
			rest.ParseRequestInfo(r).Verb != "watch" {
			next.ServeHTTP(w, r)
			return
		}
		mu.Lock()
		if open[u.Name] >= max {
			mu.Unlock()
			w.Header().Set("Retry-After", "1")
			rest.WriteStatus(codecs, w, r, &apierrors.NewTooManyRequests(
				fmt.Sprintf("Too many open watches for user %q (at most %d), please try again later.", u.Name, max), 1).ErrStatus)
			return
		}
		open[u.Name]++
		mu.Unlock()
		defer func() {
			mu.Lock()
			if open[u.Name]--; open[u.Name] == 0 {
				delete(open, u.Name)
			}
			mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}
