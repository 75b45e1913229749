package cli

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestOnceWarnings(t *testing.T) {
	var buf bytes.Buffer
	w := &onceWarnings{log: slog.New(slog.NewTextHandler(&buf, nil)), seen: map[string]bool{}}
	for range 3 {
		w.HandleWarningHeader(299, "", "v1 Endpoints is deprecated")
	}
	w.HandleWarningHeader(299, "", "another")
	w.HandleWarningHeader(199, "", "not a warning code") // ignored, as client-go ignores it
	if got := strings.Count(buf.String(), "level=WARN"); got != 2 {
		t.Errorf("got %d warning lines, want 2:\n%s", got, buf.String())
	}
}
