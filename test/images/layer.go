package testimages

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// epoch is the modification time of every layer entry and the creation time
// of every image: fixed, so that building the same content twice gives the
// same digests and a containerd that pulled an image once keeps it.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one entry of a layer built by Layer or FromFiles.
//
// The kind of entry follows from Mode's type bits: fs.ModeDir for a
// directory, fs.ModeSymlink for a symbolic link to Link, none for a regular
// file holding Data, or the contents of the host file Source when Data is
// nil. Mode's permission bits (with fs.ModeSticky, fs.ModeSetuid,
// fs.ModeSetgid) are the entry's; zero means 0644 for a file (the host
// file's permissions for a Source), 0755 for a directory.
type File struct {
	Mode   fs.FileMode
	Data   []byte
	Source string
	Link   string
	UID    int
	GID    int
}

// Text is a regular file holding s with the given permissions.
func Text(s string, perm fs.FileMode) File { return File{Mode: perm, Data: []byte(s)} }

// Dir is a directory with the given permissions (fs.ModeSticky allowed).
func Dir(perm fs.FileMode) File { return File{Mode: fs.ModeDir | perm} }

// Symlink is a symbolic link to target.
func Symlink(target string) File { return File{Mode: fs.ModeSymlink | 0o777, Link: target} }

// HostFile is a regular file with the contents and permissions of the host's
// file at p (symbolic links followed), read when the layer is made.
func HostFile(p string) File { return File{Source: p} }

// Layer makes a gzip-compressed OCI layer holding files, keyed by absolute
// path. Parent directories missing from files are added with mode 0755 and
// owner root. Entries are written in path order with a fixed time, so the
// same files always give the same digest.
func Layer(files map[string]File) (v1.Layer, error) {
	return layer(files, "")
}

// FromFiles returns base with one more layer holding files (see Layer). A nil
// base is an empty linux/amd64 image. A non-nil cfg replaces the image's
// runtime configuration (entrypoint, command, environment, user...);
// otherwise base's is kept.
func FromFiles(base v1.Image, files map[string]File, cfg *v1.Config) (v1.Image, error) {
	l, err := Layer(files)
	if err != nil {
		return nil, err
	}
	if base == nil {
		if base, err = emptyImage(); err != nil {
			return nil, err
		}
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   l,
		History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: "testimages.FromFiles", Comment: "svcnet test image"},
	})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	if cfg == nil {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Config = *cfg
	return mutate.ConfigFile(img, cf)
}

// emptyImage is an OCI image for linux/amd64 without layers.
func emptyImage() (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read empty config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = "amd64"
	cf.Created = v1.Time{Time: epoch}
	return mutate.ConfigFile(img, cf)
}

// newImage stacks layers on an empty linux/amd64 image with the runtime
// configuration cfg; createdBy describes each layer in the image's history.
func newImage(cfg v1.Config, layers []v1.Layer, createdBy []string) (v1.Image, error) {
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		adds[i] = mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: epoch}, CreatedBy: createdBy[i]}}
	}
	base, err := emptyImage()
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// layer is Layer with the compressed layers kept in cacheDir (if not empty),
// named by the digest of the uncompressed tar: gzip is the slow step of
// making a large layer, and the same files make the same tar.
func layer(files map[string]File, cacheDir string) (v1.Layer, error) {
	raw, err := tarFiles(files)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	var gz []byte
	cached := ""
	if cacheDir != "" {
		cached = filepath.Join(cacheDir, "layers", hex.EncodeToString(sum[:])+".tar.gz")
		gz, err = os.ReadFile(cached)
		switch {
		case err == nil:
			// Marks the file used, for pruneLayers.
			now := time.Now()
			if err := os.Chtimes(cached, now, now); err != nil {
				return nil, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("read cached layer: %w", err)
		}
	}
	if gz == nil {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(raw); err != nil {
			return nil, fmt.Errorf("compress layer: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("compress layer: %w", err)
		}
		gz = buf.Bytes()
		if cached != "" {
			if err := writeFileAtomic(cached, gz, 0o644); err != nil {
				return nil, fmt.Errorf("cache layer: %w", err)
			}
		}
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// tarFiles writes files, and the parent directories they lack, as an
// uncompressed tar in path order.
func tarFiles(files map[string]File) ([]byte, error) {
	all := make(map[string]File, len(files))
	for p, f := range files {
		if !path.IsAbs(p) {
			return nil, fmt.Errorf("layer path %q is not absolute", p)
		}
		clean := path.Clean(p)
		if clean == "/" {
			continue
		}
		all[clean] = f
		for dir := path.Dir(clean); dir != "/"; dir = path.Dir(dir) {
			if _, ok := all[dir]; !ok {
				all[dir] = Dir(0o755) // replaced if files lists dir itself
			}
		}
	}
	names := make([]string, 0, len(all))
	for p := range all {
		names = append(names, p)
	}
	sort.Strings(names)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		if err := writeEntry(tw, p, all[p]); err != nil {
			return nil, fmt.Errorf("layer entry %s: %w", p, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeEntry adds one File at absolute path p to tw.
func writeEntry(tw *tar.Writer, p string, f File) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(p, "/"),
		Uid:     f.UID,
		Gid:     f.GID,
		ModTime: epoch,
		Format:  tar.FormatPAX,
	}
	perm := f.Mode & (fs.ModePerm | fs.ModeSticky | fs.ModeSetuid | fs.ModeSetgid)
	var data []byte
	switch {
	case f.Mode&fs.ModeDir != 0:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		if perm == 0 {
			perm = 0o755
		}
	case f.Mode&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = f.Link
		perm = 0o777
	default:
		hdr.Typeflag = tar.TypeReg
		data = f.Data
		if data == nil && f.Source != "" {
			st, err := os.Stat(f.Source)
			if err != nil {
				return err
			}
			if data, err = os.ReadFile(f.Source); err != nil {
				return err
			}
			if perm == 0 {
				perm = st.Mode().Perm()
			}
		}
		if perm == 0 {
			perm = 0o644
		}
		hdr.Size = int64(len(data))
	}
	hdr.Mode = tarMode(perm)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

// tarMode converts permission bits from fs.FileMode to tar's (Unix) layout.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// writeFileAtomic writes data to p through a temporary file and a rename, so
// a concurrent reader (another test binary sharing the cache) never sees a
// partial file.
func writeFileAtomic(p string, data []byte, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-"+filepath.Base(p)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// layerCacheTTL is how long a cached layer no Build used is kept: host
// binaries change with package upgrades and the old layers would pile up.
const layerCacheTTL = 14 * 24 * time.Hour

// pruneLayers removes the cached layers of cacheDir unused for
// layerCacheTTL.
func pruneLayers(cacheDir string) error {
	dir := filepath.Join(cacheDir, "layers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if time.Since(info.ModTime()) > layerCacheTTL {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
