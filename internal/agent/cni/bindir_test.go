package cni

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindBinDir(t *testing.T) {
	type file struct {
		name string
		mode os.FileMode
	}
	exe := func(names ...string) []file {
		var fs []file
		for _, n := range names {
			fs = append(fs, file{n, 0o755})
		}
		return fs
	}
	all := exe("bridge", "host-local", "portmap", "loopback")
	tests := []struct {
		name    string
		dirs    [][]file // nil: the directory does not exist
		want    int      // index of the directory found, -1 for none
		wantErr []string
	}{
		{name: "first complete", dirs: [][]file{all, all}, want: 0},
		{name: "skips incomplete", dirs: [][]file{exe("bridge", "host-local"), append(exe("firewall"), all...)}, want: 1},
		{name: "skips missing dir", dirs: [][]file{nil, all}, want: 1},
		{name: "not executable", dirs: [][]file{append(exe("bridge", "host-local", "portmap"), file{"loopback", 0o644})},
			want: -1, wantErr: []string{"lacks loopback"}},
		{name: "directory instead of plugin", dirs: [][]file{append(exe("bridge", "host-local", "loopback"), file{"portmap", os.ModeDir | 0o755})},
			want: -1, wantErr: []string{"lacks portmap"}},
		{name: "none complete names what each lacks", dirs: [][]file{exe("bridge", "loopback"), nil},
			want: -1, wantErr: []string{"0 lacks host-local, portmap;", "1 lacks bridge, host-local, portmap, loopback"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var dirs []string
			for i, files := range tc.dirs {
				dir := filepath.Join(root, "bin"+string(rune('0'+i)))
				dirs = append(dirs, dir)
				if files == nil {
					continue
				}
				if err := os.Mkdir(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					p := filepath.Join(dir, f.name)
					var err error
					if f.mode.IsDir() {
						err = os.Mkdir(p, f.mode.Perm())
					} else {
						err = os.WriteFile(p, []byte("#!/bin/sh\n"), f.mode)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			got, err := FindBinDir(dirs...)
			if tc.want >= 0 {
				if err != nil || got != dirs[tc.want] {
					t.Fatalf("got %q, %v; want %q", got, err, dirs[tc.want])
				}
				return
			}
			if !IsPluginsMissing(err) {
				t.Fatalf("got %q, %v; want a plugins-missing error", got, err)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got err %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestFindBinDirDefaults(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		if !IsPluginsMissing(err) || !strings.Contains(err.Error(), "/opt/cni/bin lacks") {
			t.Fatalf("got err %v, want one naming the default directories", err)
		}
		return
	}
	for _, p := range Plugins() {
		if !isExecutable(filepath.Join(dir, p)) {
			t.Errorf("got %q, which lacks %s", dir, p)
		}
	}
}
