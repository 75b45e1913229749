package apiserver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/svcnet/svcnet/internal/apiserver/rest"
)

// withPanicRecovery turns a panic in a handler into a 500 Status instead
// of a dropped connection, and logs it once.
func withPanicRecovery(next http.Handler, codecs *rest.Codecs, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("Recovered from panic in handler", "method", r.Method, "path", r.URL.Path, "err", v)
				rest.WriteStatus(codecs, w, r, &apierrors.NewInternalError(fmt.Errorf("%v", v)).ErrStatus)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
