package proxytest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// EachChoice builds a Tracer's answer: it runs one trace per
// load-balancing choice (pick 0, 1, ...) until run reports, as its second
// result, that no further choice exists, and returns every branch.
func EachChoice(run func(pick int) (Branch, int)) []Branch {
	var out []Branch
	for pick := 0; ; pick++ {
		b, choices := run(pick)
		out = append(out, b)
		if pick+1 >= choices {
			return out
		}
	}
}

// CheckGolden compares got with testdata/<name>.golden, or rewrites that
// file when update is set (the backends' -update flag).
func CheckGolden(t *testing.T, name, got string, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}
