package cli

import (
	"log/slog"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// routeClientLogs sends client-go's klog output through logger (so every
// line the binary prints is slog's) and logs each distinct warning an API
// server sends (such as the deprecation of v1 Endpoints, which the
// Endpoints controller writes on purpose) once instead of per request.
func routeClientLogs(logger *slog.Logger) {
	klog.SetSlogLogger(logger.With("component", "client-go"))
	rest.SetDefaultWarningHandler(&onceWarnings{log: logger, seen: map[string]bool{}})
}

// onceWarnings logs each distinct API server warning once.
type onceWarnings struct {
	log  *slog.Logger
	mu   sync.Mutex
	seen map[string]bool
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *onceWarnings) HandleWarningHeader(code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	first := !w.seen[text]
	w.seen[text] = true
	w.mu.Unlock()
	if first {
		w.log.Warn("API server warned (logged once)", "warning", text)
	}
}
