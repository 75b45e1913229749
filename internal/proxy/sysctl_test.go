package proxy

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSysctlEnabled(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content *string
		want    bool
	}{
		{name: "missing", want: false},
		{name: "zero", content: ptrTo("0\n"), want: false},
		{name: "one", content: ptrTo("1\n"), want: true},
		{name: "empty", content: ptrTo(""), want: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if tc.content != nil {
				if err := os.WriteFile(p, []byte(*tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := sysctlEnabled(p); got != tc.want {
				t.Errorf("sysctlEnabled(%q) = %v, want %v", p, got, tc.want)
			}
		})
	}
}
