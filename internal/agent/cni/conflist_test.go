package cni

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// parsedList is the conflist as a runtime reads it back.
type parsedList struct {
	CNIVersion string           `json:"cniVersion"`
	Name       string           `json:"name"`
	Plugins    []map[string]any `json:"plugins"`
}

func readList(t *testing.T, path string) parsedList {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var l parsedList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, b)
	}
	return l
}

// wantBridge is the bridge plugin's configuration as JSON decodes it.
func wantBridge(bridge, subnet, gateway, dataDir string, mtu int) map[string]any {
	ipam := map[string]any{
		"type":   "host-local",
		"ranges": []any{[]any{map[string]any{"subnet": subnet, "gateway": gateway}}},
	}
	if dataDir != "" {
		ipam["dataDir"] = dataDir
	}
	b := map[string]any{
		"type":             "bridge",
		"bridge":           bridge,
		"isGateway":        true,
		"isDefaultGateway": true,
		"ipMasq":           false,
		"hairpinMode":      true,
		"ipam":             ipam,
	}
	if mtu != 0 {
		b["mtu"] = float64(mtu)
	}
	return b
}

func wantPortmap() map[string]any {
	return map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}, "snat": true}
}

func TestWriteContent(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want parsedList
	}{
		{
			name: "defaults",
			cfg:  Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24")},
			want: parsedList{CNIVersion: "1.0.0", Name: "svcnet", Plugins: []map[string]any{
				wantBridge("cni0", "10.244.1.0/24", "10.244.1.1", "", 0), wantPortmap()}},
		},
		{
			name: "everything set",
			cfg: Config{Name: "podnet", BridgeName: "svcnet-cni", PodCIDR: netip.MustParsePrefix("10.244.8.0/21"),
				Gateway: netip.MustParseAddr("10.244.15.254"), DataDir: "/var/lib/svcnet/ipam", MTU: 1450},
			want: parsedList{CNIVersion: "1.0.0", Name: "podnet", Plugins: []map[string]any{
				wantBridge("svcnet-cni", "10.244.8.0/21", "10.244.15.254", "/var/lib/svcnet/ipam", 1450), wantPortmap()}},
		},
		{
			name: "unmasked CIDR",
			cfg:  Config{PodCIDR: netip.MustParsePrefix("10.244.1.77/24")},
			want: parsedList{CNIVersion: "1.0.0", Name: "svcnet", Plugins: []map[string]any{
				wantBridge("cni0", "10.244.1.0/24", "10.244.1.1", "", 0), wantPortmap()}},
		},
		{
			name: "IPv6",
			cfg:  Config{PodCIDR: netip.MustParsePrefix("fd00:10:244:1::/64")},
			want: parsedList{CNIVersion: "1.0.0", Name: "svcnet", Plugins: []map[string]any{
				wantBridge("cni0", "fd00:10:244:1::/64", "fd00:10:244:1::1", "", 0), wantPortmap()}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ConfDir = filepath.Join(t.TempDir(), "net.d")
			path, err := Write(tc.cfg)
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if want := filepath.Join(tc.cfg.ConfDir, FileName); path != want {
				t.Errorf("got path %q, want %q", path, want)
			}
			if diff := cmp.Diff(tc.want, readList(t, path)); diff != "" {
				t.Errorf("conflist (-want +got):\n%s", diff)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode().Perm(); got != 0o644 {
				t.Errorf("got mode %v, want 0644", got)
			}
			entries, err := os.ReadDir(tc.cfg.ConfDir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("got %d files in the config dir, want only %s", len(entries), FileName)
			}
		})
	}
}

func TestWriteInvalid(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{name: "no pod CIDR", cfg: Config{}, want: "no pod CIDR"},
		{name: "gateway outside", cfg: Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"),
			Gateway: netip.MustParseAddr("10.244.2.1")}, want: "not a host address"},
		{name: "gateway is the network", cfg: Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"),
			Gateway: netip.MustParseAddr("10.244.1.0")}, want: "not a host address"},
		{name: "gateway of the other family", cfg: Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"),
			Gateway: netip.MustParseAddr("fd00::1")}, want: "not a host address"},
		{name: "bridge name too long", cfg: Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"),
			BridgeName: "a-very-long-bridge"}, want: "longer than 15"},
		{name: "negative MTU", cfg: Config{PodCIDR: netip.MustParsePrefix("10.244.1.0/24"), MTU: -1}, want: "negative MTU"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ConfDir = t.TempDir()
			_, err := Write(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got err %v, want one containing %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(tc.cfg.ConfDir, FileName)); !os.IsNotExist(err) {
				t.Errorf("got stat err %v, want no file written", err)
			}
		})
	}
}

// fileID identifies one version of a file: a rewrite by rename gets a new
// inode.
type fileID struct {
	ino   uint64
	mtime time.Time
}

func statID(t *testing.T, path string) fileID {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileID{ino: st.Sys().(*syscall.Stat_t).Ino, mtime: st.ModTime()}
}

func TestWriteOnlyWhenChanged(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{ConfDir: dir, PodCIDR: netip.MustParsePrefix("10.244.1.0/24")}
	path, err := Write(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Backdate the file so an unwanted rewrite shows even within the
	// filesystem's timestamp granularity.
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	before := statID(t, path)

	if _, err := Write(cfg); err != nil {
		t.Fatal(err)
	}
	if got := statID(t, path); got != before {
		t.Errorf("same config: got file %+v, want it untouched %+v", got, before)
	}

	cfg.MTU = 1400
	if _, err := Write(cfg); err != nil {
		t.Fatal(err)
	}
	after := statID(t, path)
	if after.ino == before.ino || after.mtime.Equal(before.mtime) {
		t.Errorf("changed config: got file %+v, want a new file (was %+v)", after, before)
	}
	if got := readList(t, path).Plugins[0]["mtu"]; got != float64(1400) {
		t.Errorf("got mtu %v, want 1400", got)
	}

	// A file edited by hand is put back.
	if err := os.WriteFile(path, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(cfg); err != nil {
		t.Fatal(err)
	}
	if got := readList(t, path).Name; got != "svcnet" {
		t.Errorf("got name %q after a hand edit, want the file rewritten", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got %d files, want no temporary files left", len(entries))
	}
}
