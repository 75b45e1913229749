package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/svcnet/svcnet/internal/agent/downward"
	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// defaultMode is the file mode of API data volumes when the pod sets none
// (0644, as upstream's SecretVolumeSourceDefaultMode).
const defaultMode = 0o644

// Config configures a Manager.
type Config struct {
	// Client reads the Secrets and ConfigMaps the volumes refer to and
	// requests the ServiceAccount tokens of serviceAccountToken sources.
	Client kubernetes.Interface
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Manager materialises the volumes of one pod. It keeps the pod's
// ServiceAccount tokens between calls of Setup, so one Manager should
// serve a pod for its life. It is safe for concurrent use.
type Manager struct {
	cfg Config

	mu     sync.Mutex
	tokens map[string]cachedToken // by pod UID, audience and lifetime
}

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Client == nil {
		return nil, errors.New("volumes: Client is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, tokens: map[string]cachedToken{}}, nil
}

// Volume is a materialised volume.
type Volume struct {
	// Path is the host directory (or, for a hostPath file, the file).
	Path string
	// ReadOnly is set for the API data volumes (secret, configMap,
	// downwardAPI, projected), which containers always see read-only.
	ReadOnly bool
	// Owned is set when Path lies in the pod's directory, where a missing
	// subPath may be created.
	Owned bool
}

// SetupError is a volume that could not be set up; its message is
// kubelet's FailedMount event message.
type SetupError struct {
	Volume string
	Err    error
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", e.Volume, e.Err)
}

func (e *SetupError) Unwrap() error { return e.Err }

// Plugin directory names under <pod dir>/volumes, as kubelet's.
const (
	dirSecret      = "kubernetes.io~secret"
	dirConfigMap   = "kubernetes.io~configmap"
	dirDownwardAPI = "kubernetes.io~downward-api"
	dirProjected   = "kubernetes.io~projected"
	dirEmptyDir    = "kubernetes.io~empty-dir"
)

// Setup materialises every volume of pod under podDir/volumes and returns
// them by name. It is idempotent: called again, it rewrites (atomically)
// only the API data volumes whose content changed, so updated Secrets and
// ConfigMaps reach running containers. The first failing volume is
// returned as a *SetupError.
func (m *Manager) Setup(ctx context.Context, pod *v1.Pod, podDir string) (map[string]Volume, error) {
	vols := map[string]Volume{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, err := m.setup(ctx, pod, podDir, v)
		if err != nil {
			return nil, &SetupError{Volume: v.Name, Err: err}
		}
		vols[v.Name] = vol
	}
	return vols, nil
}

func (m *Manager) setup(ctx context.Context, pod *v1.Pod, podDir string, v *v1.Volume) (Volume, error) {
	dir := func(plugin string) string { return filepath.Join(podDir, "volumes", plugin, v.Name) }
	data := func(plugin string, payload map[string]File, err error) (Volume, error) {
		if err != nil {
			return Volume{}, err
		}
		d := dir(plugin)
		if _, err := writeAtomic(d, payload); err != nil {
			return Volume{}, fmt.Errorf("writing volume: %w", err)
		}
		return Volume{Path: d, ReadOnly: true, Owned: true}, nil
	}
	s := v.VolumeSource
	switch {
	case s.Secret != nil:
		p, err := m.secret(ctx, pod.Namespace, s.Secret.SecretName, s.Secret.Items, s.Secret.Optional, mode(s.Secret.DefaultMode))
		return data(dirSecret, p, err)
	case s.ConfigMap != nil:
		p, err := m.configMap(ctx, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, mode(s.ConfigMap.DefaultMode))
		return data(dirConfigMap, p, err)
	case s.DownwardAPI != nil:
		p, err := downwardAPI(pod, s.DownwardAPI.Items, mode(s.DownwardAPI.DefaultMode))
		return data(dirDownwardAPI, p, err)
	case s.Projected != nil:
		p, err := m.projected(ctx, pod, s.Projected)
		return data(dirProjected, p, err)
	case s.EmptyDir != nil:
		// Medium "Memory" is a plain directory too: a tmpfs would be a
		// mount in the host's namespace to track and unmount.
		d := dir(dirEmptyDir)
		if err := os.MkdirAll(d, 0o777); err != nil {
			return Volume{}, err
		}
		// Writable by any user of the container, as kubelet's.
		if err := os.Chmod(d, 0o777); err != nil {
			return Volume{}, err
		}
		return Volume{Path: d, Owned: true}, nil
	case s.HostPath != nil:
		if err := hostPath(s.HostPath); err != nil {
			return Volume{}, err
		}
		return Volume{Path: filepath.Clean(s.HostPath.Path)}, nil
	}
	return Volume{}, errors.New("unsupported volume type")
}

func mode(m *int32) os.FileMode {
	if m == nil {
		return defaultMode
	}
	return os.FileMode(*m) & 0o777
}

func optional(b *bool) bool { return b != nil && *b }

// keyed builds a payload from an object's keys: all of them, or the items.
func keyed(kind, name string, data map[string][]byte, items []v1.KeyToPath, opt bool, def os.FileMode) (map[string]File, error) {
	payload := map[string]File{}
	if len(items) == 0 {
		for k, b := range data {
			payload[k] = File{Data: b, Mode: def}
		}
		return payload, nil
	}
	for _, it := range items {
		b, ok := data[it.Key]
		if !ok {
			if opt {
				continue
			}
			return nil, fmt.Errorf("%s references non-existent %s key: %s", kind, kind, it.Key)
		}
		f := File{Data: b, Mode: def}
		if it.Mode != nil {
			f.Mode = os.FileMode(*it.Mode) & 0o777
		}
		payload[it.Path] = f
	}
	return payload, nil
}

func (m *Manager) secret(ctx context.Context, ns, name string, items []v1.KeyToPath, opt *bool, def os.FileMode) (map[string]File, error) {
	s, err := m.cfg.Client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional(opt) {
		return map[string]File{}, nil
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("secret %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting secret %q: %w", name, err)
	}
	return keyed("secret", name, s.Data, items, optional(opt), def)
}

func (m *Manager) configMap(ctx context.Context, ns, name string, items []v1.KeyToPath, opt *bool, def os.FileMode) (map[string]File, error) {
	cm, err := m.cfg.Client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional(opt) {
		return map[string]File{}, nil
	}
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("configmap %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting configmap %q: %w", name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, s := range cm.Data {
		data[k] = []byte(s)
	}
	for k, b := range cm.BinaryData {
		data[k] = b
	}
	return keyed("configmap", name, data, items, optional(opt), def)
}

// downwardAPI builds the files of downward API items. Only fieldRef items
// are supported; resourceFieldRef items are left out.
func downwardAPI(pod *v1.Pod, items []v1.DownwardAPIVolumeFile, def os.FileMode) (map[string]File, error) {
	payload := map[string]File{}
	for _, it := range items {
		if it.FieldRef == nil {
			continue
		}
		val, err := downward.FieldValue(pod, it.FieldRef.FieldPath, downward.Addresses{})
		if err != nil {
			return nil, err
		}
		f := File{Data: []byte(val), Mode: def}
		if it.Mode != nil {
			f.Mode = os.FileMode(*it.Mode) & 0o777
		}
		payload[it.Path] = f
	}
	return payload, nil
}

// projected merges the files of its sources. clusterTrustBundle sources
// are skipped: svcnet serves no ClusterTrustBundles.
func (m *Manager) projected(ctx context.Context, pod *v1.Pod, p *v1.ProjectedVolumeSource) (map[string]File, error) {
	def := mode(p.DefaultMode)
	payload := map[string]File{}
	for _, src := range p.Sources {
		var part map[string]File
		var err error
		switch {
		case src.Secret != nil:
			part, err = m.secret(ctx, pod.Namespace, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def)
		case src.ConfigMap != nil:
			part, err = m.configMap(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def)
		case src.DownwardAPI != nil:
			part, err = downwardAPI(pod, src.DownwardAPI.Items, def)
		case src.ServiceAccountToken != nil:
			part, err = m.serviceAccountToken(ctx, pod, src.ServiceAccountToken, def)
		}
		if err != nil {
			return nil, err
		}
		for k, f := range part {
			payload[k] = f
		}
	}
	return payload, nil
}

// hostPath checks (or, for the *OrCreate types, creates) the host path.
func hostPath(h *v1.HostPathVolumeSource) error {
	t := v1.HostPathUnset
	if h.Type != nil {
		t = *h.Type
	}
	switch t {
	case v1.HostPathDirectoryOrCreate:
		return os.MkdirAll(h.Path, 0o755)
	case v1.HostPathFileOrCreate:
		if err := os.MkdirAll(filepath.Dir(h.Path), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(h.Path, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	case v1.HostPathUnset:
		return nil
	}
	st, err := os.Stat(h.Path)
	if err != nil {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, typeName(t))
	}
	m := st.Mode()
	ok := map[v1.HostPathType]bool{
		v1.HostPathDirectory: m.IsDir(),
		v1.HostPathFile:      m.IsRegular(),
		v1.HostPathSocket:    m&os.ModeSocket != 0,
		v1.HostPathCharDev:   m&os.ModeCharDevice != 0,
		v1.HostPathBlockDev:  m&os.ModeDevice != 0 && m&os.ModeCharDevice == 0,
	}[t]
	if !ok {
		return fmt.Errorf("hostPath type check failed: %s is not a %s", h.Path, typeName(t))
	}
	return nil
}

func typeName(t v1.HostPathType) string {
	switch t {
	case v1.HostPathDirectory:
		return "directory"
	case v1.HostPathFile:
		return "file"
	case v1.HostPathSocket:
		return "socket"
	case v1.HostPathCharDev:
		return "character device"
	case v1.HostPathBlockDev:
		return "block device"
	}
	return string(t)
}

// Mounts returns the mounts of container c over the volumes vols. A
// subPath must stay inside its volume; a missing one is created as a
// directory in a volume the pod owns (an emptyDir), as kubelet does.
func Mounts(c *v1.Container, vols map[string]Volume) ([]runtime.Mount, error) {
	var ms []runtime.Mount
	for _, vm := range c.VolumeMounts {
		vol, ok := vols[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %q: no volume of that name", vm.Name)
		}
		src := vol.Path
		if vm.SubPath != "" {
			if err := checkPath(vm.SubPath); err != nil {
				return nil, fmt.Errorf("volumeMount %q: subPath: %w", vm.Name, err)
			}
			src = filepath.Join(vol.Path, vm.SubPath)
			if _, err := os.Lstat(src); errors.Is(err, os.ErrNotExist) && vol.Owned && !vol.ReadOnly {
				// The container may have planted symlinks in its volume:
				// what exists of the path must resolve inside the volume
				// before anything is created along it.
				if _, err := within(vol.Path, existingAncestor(src)); err != nil {
					return nil, fmt.Errorf("volumeMount %q: %w", vm.Name, err)
				}
				if err := os.MkdirAll(src, 0o777); err != nil {
					return nil, err
				}
			}
			resolved, err := within(vol.Path, src)
			if err != nil {
				return nil, fmt.Errorf("volumeMount %q: %w", vm.Name, err)
			}
			// Mount the resolved path, so a symlink swapped in later is
			// not followed when the helper mounts it again.
			src = resolved
		}
		ms = append(ms, runtime.Mount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly || vol.ReadOnly})
	}
	return ms, nil
}

// within checks that p, with symlinks resolved, lies inside root, and
// returns p resolved.
func within(root, p string) (string, error) {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	q, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("subPath: %w", err)
	}
	if q != r && !strings.HasPrefix(q, r+"/") {
		return "", fmt.Errorf("subPath %s resolves outside its volume", p)
	}
	return q, nil
}

// existingAncestor returns p or its nearest ancestor that exists.
func existingAncestor(p string) string {
	for {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			return p
		}
		p = filepath.Dir(p)
	}
}
