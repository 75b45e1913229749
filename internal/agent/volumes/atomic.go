package volumes

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// dataLink is the symlink naming the directory with the current payload;
// the user-visible entries of a volume are symlinks through it.
const dataLink = "..data"

// File is one file of a volume's payload.
type File struct {
	Data []byte
	Mode os.FileMode
}

// checkPath rejects a payload path that is absolute, empty, has a ".."
// element or starts with "..", which the writer reserves.
func checkPath(p string) error {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid path %q", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." || el == "" {
			return fmt.Errorf("invalid path %q", p)
		}
	}
	return nil
}

// writeAtomic makes dir present exactly payload, and reports whether it had
// to change anything. Readers never see a mix of old and new files: the
// payload is written to a fresh timestamped directory, the ..data symlink
// is switched to it with one rename, and each top-level entry of the
// payload is a symlink through ..data; then stale entries and the previous
// directory are removed.
func writeAtomic(dir string, payload map[string]File) (bool, error) {
	for p := range payload {
		if err := checkPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if old != "" {
		same, err := sameContent(filepath.Join(dir, old), payload)
		if err != nil {
			return false, err
		}
		if same && linksOK(dir, payload) {
			return false, nil
		}
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	for p, f := range payload {
		full := filepath.Join(ts, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
			return false, err
		}
		// WriteFile's mode is filtered by the umask.
		if err := os.Chmod(full, f.Mode); err != nil {
			return false, err
		}
	}
	if err := replaceSymlink(filepath.Join(dir, dataLink), filepath.Base(ts)); err != nil {
		return false, err
	}
	top := topLevel(payload)
	for name := range top {
		if err := replaceSymlink(filepath.Join(dir, name), filepath.Join(dataLink, name)); err != nil {
			return false, err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return false, err
			}
		}
	}
	if old != "" && old != filepath.Base(ts) {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			return false, err
		}
	}
	return true, nil
}

func topLevel(payload map[string]File) map[string]bool {
	top := map[string]bool{}
	for p := range payload {
		top[strings.SplitN(p, "/", 2)[0]] = true
	}
	return top
}

// linksOK reports whether every top-level entry of payload is the symlink
// through ..data and no other visible entry exists.
func linksOK(dir string, payload map[string]File) bool {
	top := topLevel(payload)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		if t, err := os.Readlink(filepath.Join(dir, e.Name())); err != nil || !top[e.Name()] || t != filepath.Join(dataLink, e.Name()) {
			return false
		}
		n++
	}
	return n == len(top)
}

// replaceSymlink points link at target atomically.
func replaceSymlink(link, target string) error {
	if t, err := os.Readlink(link); err == nil && t == target {
		return nil
	}
	// A ".." prefix cannot collide with a payload entry.
	tmp := filepath.Join(filepath.Dir(link), "..tmp_"+filepath.Base(link))
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// sameContent reports whether the regular files under root are exactly
// payload, with the same contents and modes.
func sameContent(root string, payload map[string]File) (bool, error) {
	seen := 0
	same := true
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		f, ok := payload[rel]
		if !ok || !d.Type().IsRegular() {
			same = false
			return filepath.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if info.Mode().Perm() != f.Mode.Perm() || !bytes.Equal(data, f.Data) {
			same = false
			return filepath.SkipAll
		}
		seen++
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return same && seen == len(payload), nil
}
