package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestLogsHandler(t *testing.T) {
	a := &Agent{cfg: Config{DataDir: t.TempDir()}}
	path := a.LogPath("ns", "p", "c")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("one\ntwo\nthree\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".previous", []byte("old\nlast"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		url      string
		wantCode int
		want     string
	}{
		{"all", "/containerLogs/ns/p/c", 200, "one\ntwo\nthree\n"},
		{"tail 2", "/containerLogs/ns/p/c?tailLines=2", 200, "two\nthree\n"},
		{"tail 0", "/containerLogs/ns/p/c?tailLines=0", 200, ""},
		{"tail more than all", "/containerLogs/ns/p/c?tailLines=10", 200, "one\ntwo\nthree\n"},
		{"limit", "/containerLogs/ns/p/c?limitBytes=5", 200, "one\nt"},
		{"tail and limit", "/containerLogs/ns/p/c?tailLines=1&limitBytes=3", 200, "thr"},
		{"previous unterminated", "/containerLogs/ns/p/c?previous=true&tailLines=1", 200, "last"},
		{"no log", "/containerLogs/ns/p/x", 404, "container x has no log\n"},
		{"bad path", "/containerLogs/ns/p", 404, "404 page not found\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a.LogsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.url, nil))
			if rec.Code != tc.wantCode || rec.Body.String() != tc.want {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.wantCode, tc.want)
			}
		})
	}
}
