package agent

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// logPollInterval is how often a followed log is checked for new output.
const logPollInterval = 200 * time.Millisecond

// LogsHandler serves /containerLogs/<ns>/<pod>/<container>, with
// ?previous=true for the previous run and ?follow=true to stream until the
// client goes away.
func (a *Agent) LogsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			http.NotFound(w, r)
			return
		}
		path := a.LogPath(parts[0], parts[1], parts[2])
		if r.URL.Query().Get("previous") == "true" {
			path += ".previous"
		}
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			http.Error(w, "container "+parts[2]+" has no log", http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "text/plain")
		if _, err := io.Copy(w, f); err != nil || r.URL.Query().Get("follow") != "true" {
			return
		}
		flusher, _ := w.(http.Flusher)
		t := time.NewTicker(logPollInterval)
		defer t.Stop()
		for {
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-t.C:
			}
			if _, err := io.Copy(w, f); err != nil {
				return
			}
		}
	})
}
