package apiserver

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/svcnet/svcnet/internal/api"
	"github.com/svcnet/svcnet/internal/apiserver/authn"
	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

func TestInFlightLimit(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("block") == "1" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	h := withInFlightLimit(blocking, 1, 1, rest.NewCodecs(api.NewScheme()))
	user := func(r *http.Request, groups ...string) *http.Request {
		return r.WithContext(authn.WithUser(r.Context(), authn.User{Name: "u", Groups: groups}))
	}
	// Fill the read-only and the mutating slot.
	var wg sync.WaitGroup
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), user(httptest.NewRequest(method, "/api/v1/namespaces/default/configmaps?block=1", nil)))
		}()
		<-entered
	}
	tests := []struct {
		name, method, path string
		groups             []string
		want               int
	}{
		{name: "read-only over the limit", method: http.MethodGet, path: "/api/v1/namespaces/default/configmaps", want: http.StatusTooManyRequests},
		{name: "mutating over the limit", method: http.MethodDelete, path: "/api/v1/namespaces/default/configmaps/x", want: http.StatusTooManyRequests},
		{name: "non-resource request counted", method: http.MethodGet, path: "/healthz", want: http.StatusTooManyRequests},
		{name: "watch not counted", method: http.MethodGet, path: "/api/v1/namespaces/default/configmaps?watch=true", want: http.StatusOK},
		{name: "exec not counted", method: http.MethodPost, path: "/api/v1/namespaces/default/pods/p/exec", want: http.StatusOK},
		{name: "proxy not counted", method: http.MethodGet, path: "/api/v1/namespaces/default/services/s/proxy/a/b", want: http.StatusOK},
		{name: "system:masters exempt", method: http.MethodGet, path: "/api/v1/namespaces/default/configmaps",
			groups: []string{"system:masters"}, want: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, user(httptest.NewRequest(tc.method, tc.path, nil), tc.groups...))
			if rec.Code != tc.want {
				t.Fatalf("got %d, want %d", rec.Code, tc.want)
			}
			if tc.want == http.StatusTooManyRequests && rec.Header().Get("Retry-After") != "1" {
				t.Errorf("got Retry-After %q, want 1", rec.Header().Get("Retry-After"))
			}
		})
	}
	close(release)
	wg.Wait()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, user(httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/configmaps", nil)))
	if rec.Code != http.StatusOK {
		t.Errorf("after the slots were freed: got %d, want 200", rec.Code)
	}
}

func TestWatchLimit(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 10)
	blocking := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("watch") == "true" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	h := withWatchLimit(blocking, 2, rest.NewCodecs(api.NewScheme()))
	as := func(name string, r *http.Request, groups ...string) *http.Request {
		return r.WithContext(authn.WithUser(r.Context(), authn.User{Name: name, Groups: groups}))
	}
	watch := func() *http.Request {
		return httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/configmaps?watch=true", nil)
	}
	// Alice holds two watches open.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); h.ServeHTTP(httptest.NewRecorder(), as("alice", watch())) }()
		<-entered
	}
	tests := []struct {
		name string
		req  *http.Request
		want int
	}{
		{"alice's third watch", as("alice", watch()), http.StatusTooManyRequests},
		{"alice's list", as("alice", httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/configmaps", nil)), http.StatusOK},
		{"system:masters exempt", as("root", watch(), "system:masters"), -1},
		{"a node is not exempt", as("alice", watch(), "system:nodes"), http.StatusTooManyRequests},
		{"bob's watch", as("bob", watch()), -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.want == -1 {
				// Admitted: it blocks in the handler until released.
				wg.Add(1)
				go func() { defer wg.Done(); h.ServeHTTP(rec, tc.req) }()
				<-entered
				return
			}
			h.ServeHTTP(rec, tc.req)
			if rec.Code != tc.want {
				t.Fatalf("got %d, want %d", rec.Code, tc.want)
			}
		})
	}
	close(release)
	wg.Wait()
	// Ended watches free their slots.
	rec := httptest.NewRecorder()
	h2 := withWatchLimit(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }), 1,
		rest.NewCodecs(api.NewScheme()))
	for range 3 {
		h2.ServeHTTP(rec, as("alice", watch()))
		if rec.Code != http.StatusOK {
			t.Fatalf("sequential watches: got %d, want 200", rec.Code)
		}
	}
}
