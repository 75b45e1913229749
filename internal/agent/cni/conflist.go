package cni

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Defaults for Config.
const (
	DefaultConfDir    = "/etc/cni/net.d"
	DefaultName       = "svcnet"
	DefaultBridgeName = "cni0"
)

// FileName is the conflist Write maintains in Config.ConfDir. Runtimes load
// the first file of the directory in name order, hence the number.
const FileName = "10-svcnet.conflist"

// cniVersion is the spec version of the conflist; 1.0.0 is understood by
// every plugin release since v1.0.0, including Debian's 1.1.1.
const cniVersion = "1.0.0"

// maxIfName is the longest Linux interface name (IFNAMSIZ less the NUL).
const maxIfName = 15

// Config describes the node's pod network.
type Config struct {
	// ConfDir is where the runtime looks for CNI configuration; default
	// DefaultConfDir.
	ConfDir string
	// Name is the network's name, which the runtime and host-local key
	// their state by; default DefaultName.
	Name string
	// BridgeName is the host bridge pods are attached to; default
	// DefaultBridgeName.
	BridgeName string
	// PodCIDR is the node's pod range; required.
	PodCIDR netip.Prefix
	// Gateway is the bridge's address and the pods' default gateway;
	// default the first address of PodCIDR.
	Gateway netip.Addr
	// DataDir is where host-local records allocated addresses; empty leaves
	// the plugin's default, /var/lib/cni/networks.
	DataDir string
	// MTU of the bridge and pod interfaces; 0 leaves the plugin's default.
	MTU int
}

// conflist is the JSON network configuration list of the CNI spec.
type conflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type bridgePlugin struct {
	Type             string `json:"type"`
	Bridge           string `json:"bridge"`
	IsGateway        bool   `json:"isGateway"`
	IsDefaultGateway bool   `json:"isDefaultGateway"`
	IPMasq           bool   `json:"ipMasq"`
	HairpinMode      bool   `json:"hairpinMode"`
	MTU              int    `json:"mtu,omitempty"`
	IPAM             ipam   `json:"ipam"`
}

type ipam struct {
	Type    string        `json:"type"`
	Ranges  [][]ipamRange `json:"ranges"`
	DataDir string        `json:"dataDir,omitempty"`
}

type ipamRange struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

type portmapPlugin struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
	SNAT         bool            `json:"snat"`
}

// withDefaults fills in the defaults and checks what remains.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.ConfDir == "" {
		cfg.ConfDir = DefaultConfDir
	}
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = DefaultBridgeName
	}
	if len(cfg.BridgeName) > maxIfName {
		return cfg, fmt.Errorf("bridge name %q longer than %d bytes", cfg.BridgeName, maxIfName)
	}
	if !cfg.PodCIDR.IsValid() {
		return cfg, errors.New("no pod CIDR")
	}
	cfg.PodCIDR = cfg.PodCIDR.Masked()
	if !cfg.Gateway.IsValid() {
		cfg.Gateway = cfg.PodCIDR.Addr().Next()
	}
	if !cfg.PodCIDR.Contains(cfg.Gateway) || cfg.Gateway == cfg.PodCIDR.Addr() {
		return cfg, fmt.Errorf("gateway %s is not a host address of pod CIDR %s", cfg.Gateway, cfg.PodCIDR)
	}
	if cfg.MTU < 0 {
		return cfg, fmt.Errorf("negative MTU %d", cfg.MTU)
	}
	return cfg, nil
}

// render returns the conflist for cfg, which has its defaults.
func render(cfg Config) ([]byte, error) {
	list := conflist{
		CNIVersion: cniVersion,
		Name:       cfg.Name,
		Plugins: []any{
			bridgePlugin{
				Type:      "bridge",
				Bridge:    cfg.BridgeName,
				IsGateway: true,
				// The bridge plugin adds the pod's default route via the
				// gateway itself, for either family. IPAM must then name no
				// default route: the plugin adds its own regardless and the
				// second one fails with "file exists".
				IsDefaultGateway: true,
				// The agent masquerades pod traffic leaving the node itself.
				IPMasq:      false,
				HairpinMode: true,
				MTU:         cfg.MTU,
				IPAM: ipam{
					Type:    "host-local",
					Ranges:  [][]ipamRange{{{Subnet: cfg.PodCIDR.String(), Gateway: cfg.Gateway.String()}}},
					DataDir: cfg.DataDir,
				},
			},
			portmapPlugin{
				Type:         "portmap",
				Capabilities: map[string]bool{"portMappings": true},
				SNAT:         true,
			},
		},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode conflist: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes the conflist for cfg to ConfDir/FileName, creating ConfDir
// if needed, and returns the file's path. It leaves the file untouched
// when it already holds that content, and otherwise replaces it by a rename,
// so a runtime watching the directory never reads half a file. Other files
// in ConfDir are left alone.
func Write(cfg Config) (path string, err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return "", fmt.Errorf("cni config: %w", err)
	}
	content, err := render(cfg)
	if err != nil {
		return "", err
	}
	path = filepath.Join(cfg.ConfDir, FileName)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return path, nil
	}
	if err := os.MkdirAll(cfg.ConfDir, 0o755); err != nil {
		return "", fmt.Errorf("create CNI config dir: %w", err)
	}
	if err := writeAtomic(path, content); err != nil {
		return "", err
	}
	return path, nil
}

// writeAtomic replaces path with content through a temporary file in the
// same directory. The temporary name ends in .tmp, an extension runtimes
// do not load.
func writeAtomic(path string, content []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(content); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write CNI config: %w", err)
	}
	return nil
}
