package volumes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/svcnet/svcnet/internal/agent/runtime"
)

// readVolume returns the visible files of a volume dir (following the
// symlinks) with their modes.
func readVolume(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.HasPrefix(rel, "..") {
			if d.IsDir() && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			if p != dir && d.Type()&os.ModeSymlink != 0 {
				sub := readVolume(t, p+"/")
				for k, v := range sub {
					got[rel+"/"+k] = v
				}
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		got[rel] = st.Mode().Perm().String() + " " + string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func int32p(i int32) *int32 { return &i }
func boolp(b bool) *bool    { return &b }

func TestSetup(t *testing.T) {
	secret := &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "tls", Namespace: "default"}, Type: v1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("CERT"), "tls.key": []byte("KEY")}}
	cm := &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf", Namespace: "default"},
		Data: map[string]string{"default.conf": "server {}"}, BinaryData: map[string][]byte{"bin": {1, 2}}}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "u1",
		Labels: map[string]string{"b": "2", "a": "1"}}, Spec: v1.PodSpec{ServiceAccountName: "default"}}
	tests := []struct {
		name    string
		src     v1.VolumeSource
		want    map[string]string
		wantErr string
	}{
		{name: "secret all keys", src: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "tls"}},
			want: map[string]string{"tls.crt": "-rw-r--r-- CERT", "tls.key": "-rw-r--r-- KEY"}},
		{name: "secret items and modes", src: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "tls", DefaultMode: int32p(0o400),
			Items: []v1.KeyToPath{{Key: "tls.key", Path: "keys/k"}, {Key: "tls.crt", Path: "c", Mode: int32p(0o640)}}}},
			want: map[string]string{"keys/k": "-r-------- KEY", "c": "-rw-r----- CERT"}},
		{name: "secret missing", src: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "nope"}},
			wantErr: `MountVolume.SetUp failed for volume "v" : secret "nope" not found`},
		{name: "secret missing optional", src: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "nope", Optional: boolp(true)}},
			want: map[string]string{}},
		{name: "configmap with binary data", src: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "conf"}}},
			want: map[string]string{"default.conf": "-rw-r--r-- server {}", "bin": "-rw-r--r-- \x01\x02"}},
		{name: "configmap missing key", src: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{
			LocalObjectReference: v1.LocalObjectReference{Name: "conf"}, Items: []v1.KeyToPath{{Key: "x", Path: "x"}}}},
			wantErr: "configmap references non-existent configmap key: x"},
		{name: "downward API", src: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "a", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['a']"}}}}},
			want: map[string]string{"name": "-rw-r--r-- p", "labels": "-rw-r--r-- a=\"1\"\nb=\"2\"", "a": "-rw-r--r-- 1"}},
		{name: "projected", src: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
			{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "tls"},
				Items: []v1.KeyToPath{{Key: "tls.crt", Path: "ca.crt"}}}},
			{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}},
			{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}}}}},
			want: map[string]string{"ca.crt": "-rw-r--r-- CERT", "token": "-rw-r--r-- token-1", "namespace": "-rw-r--r-- default"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(secret, cm)
			tokenIssuer{}.install(client, time.Now, new(0), nil)
			m, err := New(Config{Client: client})
			if err != nil {
				t.Fatal(err)
			}
			p := pod.DeepCopy()
			p.Spec.Volumes = []v1.Volume{{Name: "v", VolumeSource: tc.src}}
			vols, err := m.Setup(context.Background(), p, t.TempDir())
			if tc.wantErr != "" {
				var se *SetupError
				if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want a SetupError with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !vols["v"].ReadOnly {
				t.Errorf("API data volume is not read-only")
			}
			if diff := cmp.Diff(tc.want, readVolume(t, vols["v"].Path)); diff != "" {
				t.Errorf("volume content (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteAtomicUpdates(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		payload     map[string]File
		wantChanged bool
	}{
		{map[string]File{"a": {Data: []byte("1"), Mode: 0o644}, "d/b": {Data: []byte("2"), Mode: 0o644}}, true},
		{map[string]File{"a": {Data: []byte("1"), Mode: 0o644}, "d/b": {Data: []byte("2"), Mode: 0o644}}, false},
		{map[string]File{"a": {Data: []byte("1"), Mode: 0o600}, "d/b": {Data: []byte("2"), Mode: 0o644}}, true},
		{map[string]File{"a": {Data: []byte("new"), Mode: 0o600}}, true},
		{map[string]File{}, true},
	}
	for i, s := range steps {
		changed, err := writeAtomic(dir, s.payload)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if changed != s.wantChanged {
			t.Errorf("step %d: changed got %v, want %v", i, changed, s.wantChanged)
		}
		want := map[string]string{}
		for p, f := range s.payload {
			want[p] = f.Mode.Perm().String() + " " + string(f.Data)
		}
		if diff := cmp.Diff(want, readVolume(t, dir)); diff != "" {
			t.Errorf("step %d: volume (-want +got):\n%s", i, diff)
		}
		// One timestamped directory, the ..data link, nothing else hidden.
		entries, _ := os.ReadDir(dir)
		hidden := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "..") {
				hidden++
			}
		}
		if hidden != 2 {
			t.Errorf("step %d: %d hidden entries, want ..data and one payload dir", i, hidden)
		}
	}
	if _, err := writeAtomic(dir, map[string]File{"../x": {}}); err == nil {
		t.Errorf("a path escaping the volume was accepted")
	}
}

func TestMounts(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc", filepath.Join(empty, "escape")); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(empty, "planted")); err != nil {
		t.Fatal(err)
	}
	vols := map[string]Volume{
		"secret": {Path: "/pods/u/volumes/kubernetes.io~secret/secret", ReadOnly: true, Owned: true},
		"empty":  {Path: empty, Owned: true},
	}
	tests := []struct {
		name    string
		mounts  []v1.VolumeMount
		want    []runtime.Mount
		wantErr string
	}{
		{name: "read-only API volume", mounts: []v1.VolumeMount{{Name: "secret", MountPath: "/etc/nginx/ssl"}},
			want: []runtime.Mount{{Source: vols["secret"].Path, Target: "/etc/nginx/ssl", ReadOnly: true}}},
		{name: "subPath created in an emptyDir", mounts: []v1.VolumeMount{{Name: "empty", MountPath: "/data", SubPath: "sub", ReadOnly: true}},
			want: []runtime.Mount{{Source: filepath.Join(empty, "sub"), Target: "/data", ReadOnly: true}}},
		{name: "subPath escaping through a symlink", mounts: []v1.VolumeMount{{Name: "empty", MountPath: "/x", SubPath: "escape"}},
			wantErr: "outside its volume"},
		{name: "missing subPath under a planted symlink", mounts: []v1.VolumeMount{{Name: "empty", MountPath: "/x", SubPath: "planted/new"}},
			wantErr: "outside its volume"},
		{name: "unknown volume", mounts: []v1.VolumeMount{{Name: "nope", MountPath: "/x"}}, wantErr: "no volume"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Mounts(&v1.Container{VolumeMounts: tc.mounts}, vols)
			if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
				t.Fatal("a directory was created outside the volume through a symlink")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
		})
	}
}
