package cni

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrPluginsMissing is wrapped by FindBinDir's error when no candidate
// directory holds every plugin.
var ErrPluginsMissing = errors.New("CNI plugins missing")

// IsPluginsMissing reports whether err says the CNI plugins are not
// installed.
func IsPluginsMissing(err error) bool { return errors.Is(err, ErrPluginsMissing) }

// DefaultBinDirs are where FindBinDir looks without candidates: the
// upstream install location, then the one of Debian's
// containernetworking-plugins package.
func DefaultBinDirs() []string { return []string{"/opt/cni/bin", "/usr/lib/cni"} }

// Plugins are the plugin binaries a node needs: those the conflist names
// and loopback, which containerd runs itself for each pod.
func Plugins() []string { return []string{"bridge", "host-local", "portmap", "loopback"} }

// FindBinDir returns the first candidate directory that holds every plugin
// in Plugins as an executable file, looking in DefaultBinDirs when given no
// candidates. Its error names what each candidate lacks.
func FindBinDir(candidates ...string) (string, error) {
	if len(candidates) == 0 {
		candidates = DefaultBinDirs()
	}
	var lacks []string
	for _, dir := range candidates {
		var missing []string
		for _, p := range Plugins() {
			if !isExecutable(filepath.Join(dir, p)) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return dir, nil
		}
		lacks = append(lacks, dir+" lacks "+strings.Join(missing, ", "))
	}
	return "", fmt.Errorf("%w: %s", ErrPluginsMissing, strings.Join(lacks, "; "))
}

// isExecutable reports whether path, symlinks followed, is a regular file
// someone may execute.
func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}
