package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is a bind mount of a host path (a pod volume, or a file or
// directory in it) at Target inside the container's mount namespace.
type Mount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// mountFlag is the helper flag carrying one Mount as JSON.
const mountFlag = "mount"

// mountArgs returns the helper flags for ms.
func mountArgs(ms []Mount) []string {
	args := make([]string, 0, 2*len(ms))
	for _, m := range ms {
		b, _ := json.Marshal(m) // a struct of strings and a bool always marshals
		args = append(args, "--"+mountFlag, string(b))
	}
	return args
}

// parseMount is the flag.Func parser of --mount.
func parseMount(ms *[]Mount) func(string) error {
	return func(s string) error {
		var m Mount
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			return fmt.Errorf("parsing mount: %w", err)
		}
		if !filepath.IsAbs(m.Source) || !filepath.IsAbs(m.Target) {
			return fmt.Errorf("mount %s -> %s: paths must be absolute", m.Source, m.Target)
		}
		*ms = append(*ms, m)
		return nil
	}
}

// mounter performs the mounts of one container inside its private mount
// namespace. A target that does not exist on the host (/etc/nginx/ssl) is
// never created in the host's filesystem: the nearest existing ancestor
// (/etc) is shadowed by a tmpfs holding a bind mount (or a copy of the
// symlink) of each of its original entries, and the missing directories are
// made in that tmpfs. See the package documentation.
type mounter struct {
	// created holds the directories made by the mounter (shadow roots
	// included): the only places where it may create a path.
	created map[string]bool
}

// mountAll bind-mounts ms, parents before children.
func mountAll(ms []Mount) error {
	ms = append([]Mount(nil), ms...)
	for i := range ms {
		ms[i].Target = filepath.Clean(ms[i].Target)
	}
	sort.SliceStable(ms, func(i, j int) bool { return depth(ms[i].Target) < depth(ms[j].Target) })
	mt := &mounter{created: map[string]bool{}}
	for _, m := range ms {
		if err := mt.mount(m); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Target, err)
		}
	}
	return nil
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func (mt *mounter) mount(m Mount) error {
	st, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := mt.ensureTarget(m.Target, st.IsDir()); err != nil {
		return err
	}
	if err := unix.Mount(m.Source, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s: %w", m.Source, err)
	}
	// What lies under the target now belongs to the mounted source.
	delete(mt.created, m.Target)
	if m.ReadOnly {
		if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("remounting read-only: %w", err)
		}
	}
	return nil
}

// ensureTarget makes target exist as a directory (dir) or file, creating
// missing components only in directories the mounter made.
func (mt *mounter) ensureTarget(target string, dir bool) error {
	if st, err := os.Stat(target); err == nil {
		if st.IsDir() != dir {
			return fmt.Errorf("%s exists and is not a %s", target, kind(dir))
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	anc := filepath.Dir(target)
	for {
		st, err := os.Stat(anc)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory", anc)
			}
			break
		}
		if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		anc = filepath.Dir(anc)
	}
	if !mt.created[anc] {
		shadow := mt.shadow
		if anc == "/" {
			shadow = mt.shadowRoot
		}
		if err := shadow(anc); err != nil {
			return fmt.Errorf("shadowing %s: %w", anc, err)
		}
	}
	// Create the missing components below anc, which is ours.
	rel, err := filepath.Rel(anc, target)
	if err != nil {
		return err
	}
	p := anc
	parts := strings.Split(rel, "/")
	for i, part := range parts {
		p = filepath.Join(p, part)
		if i == len(parts)-1 && !dir {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
		mt.created[p] = true
	}
	return nil
}

func kind(dir bool) string {
	if dir {
		return "directory"
	}
	return "file"
}

// shadow mounts a tmpfs over dir and puts each original entry back: a
// directory or file is bind-mounted (recursively, so mounts below it stay
// visible) from the covered directory, reached through an open descriptor;
// a symlink is recreated with the same target.
func (mt *mounter) shadow(dir string) error {
	orig, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer orig.Close()
	st, err := orig.Stat()
	if err != nil {
		return err
	}
	entries, err := orig.ReadDir(-1)
	if err != nil {
		return err
	}
	if err := mountTmpfs(dir, st.Mode()); err != nil {
		return err
	}
	if err := putBack(orig, entries, dir, ""); err != nil {
		return err
	}
	mt.created[dir] = true
	return nil
}

// shadowRoot replaces the root directory by a tmpfs holding the original
// entries. Mounting over / would not change what "/" resolves to, so the
// new root is built on a stage (a tmpfs over /tmp, or another top-level
// directory), moved onto / and entered with chroot, as switch_root does.
// The stage directory's own entry is bound back non-recursively from its
// original, since the stage now sits on top of it.
func (mt *mounter) shadowRoot(string) error {
	cwd, err := os.Getwd()
	if err != nil {
		cwd = "/"
	}
	root, err := os.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	entries, err := root.ReadDir(-1)
	if err != nil {
		return err
	}
	stage := ""
	for _, e := range entries {
		if e.IsDir() && (stage == "" || e.Name() == "tmp") {
			stage = e.Name()
		}
	}
	if stage == "" {
		return errors.New("no directory under / to stage a new root on")
	}
	stageDir := "/" + stage
	under, err := os.Open(stageDir)
	if err != nil {
		return err
	}
	defer under.Close()
	if err := mountTmpfs(stageDir, 0o755); err != nil {
		return err
	}
	if err := putBack(root, entries, stageDir, stage); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(stageDir, stage), 0o755); err != nil {
		return err
	}
	src := fmt.Sprintf("/proc/self/fd/%d", under.Fd())
	if err := unix.Mount(src, filepath.Join(stageDir, stage), "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("binding back %s: %w", stage, err)
	}
	if err := unix.Chdir(stageDir); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("moving the new root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("entering the new root: %w", err)
	}
	if err := unix.Chdir(cwd); err != nil {
		_ = unix.Chdir("/")
	}
	mt.created["/"] = true
	return nil
}

func mountTmpfs(dir string, mode os.FileMode) error {
	opts := fmt.Sprintf("mode=%o", mode.Perm())
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting tmpfs: %w", err)
	}
	return nil
}

// putBack recreates in dir the entries of the directory open as orig
// (now covered): symlinks as copies, the others as recursive bind mounts
// from orig reached through its descriptor. The entry named skip is left
// out.
func putBack(orig *os.File, entries []os.DirEntry, dir, skip string) error {
	base := fmt.Sprintf("/proc/self/fd/%d", orig.Fd())
	for _, e := range entries {
		if e.Name() == skip {
			continue
		}
		src, dst := filepath.Join(base, e.Name()), filepath.Join(dir, e.Name())
		switch {
		case e.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(src)
			if errors.Is(err, os.ErrNotExist) {
				continue
			} else if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		case e.IsDir():
			if err := os.Mkdir(dst, 0o755); err != nil {
				return err
			}
		default:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			f.Close()
		}
		if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); errors.Is(err, unix.ENOENT) {
			// Removed on the host since it was listed.
			_ = os.Remove(dst)
		} else if err != nil {
			return fmt.Errorf("binding back %s: %w", e.Name(), err)
		}
	}
	return nil
}
