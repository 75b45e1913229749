package testimages

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestServe serves images on loopback and reads them back at the mirror
// paths. It listens on a port, so it runs only inside a network namespace.
func TestServe(t *testing.T) {
	if os.Getenv("SVCNET_IN_NETNS") != "1" {
		t.Skip("listens on loopback: run inside a network namespace (hack/netns-run.sh go test ./test/images/...)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := FromFiles(nil, map[string]File{"/a": Text("a\n", 0o644)}, &v1.Config{Cmd: []string{"/a"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := FromFiles(a, map[string]File{"/b": Text("b\n", 0o644)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Serve(ctx, "127.0.0.1:0", map[string]v1.Image{
		"registry.k8s.io/pause:3.10":     a,
		"docker.io/library/nginx:latest": b,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if err := reg.Push(ctx, "quay.io/org/pushed:v1", b); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		path string // at the registry, below its address
		want v1.Image
	}{
		{path: "/pause:3.10", want: a},
		{path: "/library/nginx:latest", want: b},
		{path: "/org/pushed:v1", want: b},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			ref, err := name.ParseReference(reg.Addr()+tc.path, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Image(ref, remote.WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			gotDigest, err := got.Digest()
			if err != nil {
				t.Fatal(err)
			}
			wantDigest, err := tc.want.Digest()
			if err != nil {
				t.Fatal(err)
			}
			if gotDigest != wantDigest {
				t.Errorf("got %s, want %s", gotDigest, wantDigest)
			}
		})
	}
}
