package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/snapshot"
	utlsnapshot "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// restoreRevisionBump lifts the revision of a restored member far above any
// revision the lost data may have reached, and the restore marks it
// compacted, so watchers that knew newer revisions get 410 Gone and relist
// instead of silently missing what the restore took away (etcdutl's
// --bump-revision and --mark-compacted, as Kubernetes recommends).
const restoreRevisionBump = 1_000_000_000

// ClientEndpoint returns the client endpoint of the single member whose
// data directory is dataDir (its unix socket).
func ClientEndpoint(dataDir string) (string, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	return "unix://" + filepath.Join(dir, clientSocket), nil
}

// Snapshot writes a consistent snapshot of the cluster at endpoints to
// path (through a temporary file, so path is whole or absent) and returns
// the etcd version that wrote it.
func Snapshot(ctx context.Context, endpoints []string, tlsCfg *tls.Config, path string) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("snapshot directory: %w", err)
	}
	version, err := snapshot.SaveWithVersion(ctx, zap.NewNop(), clientv3.Config{Endpoints: endpoints, TLS: tlsCfg,
		DialTimeout: dialTimeout}, path)
	if err != nil {
		return "", fmt.Errorf("etcd snapshot of %v: %w", endpoints, err)
	}
	return version, nil
}

// Restore replaces the single member's data in dataDir by the snapshot
// file: the current data is kept aside as <dataDir>.old-<time> (returned),
// never deleted. The member must not be running.
func Restore(snapshotPath, dataDir, name string, now time.Time) (string, error) {
	if name == "" {
		name = defaultName
	}
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(snapshotPath); err != nil {
		return "", fmt.Errorf("snapshot: %w", err)
	}
	if running(dir) {
		return "", fmt.Errorf("etcd in %s is running: stop the server first", dir)
	}
	// Restore into a fresh directory beside the old one, then swap: a
	// failed restore leaves the old data where it was.
	staging := dir + ".restoring"
	if err := os.RemoveAll(staging); err != nil {
		return "", err
	}
	peer := "unix://" + filepath.Join(dir, peerSocket)
	err = utlsnapshot.NewV3(zap.NewNop()).Restore(utlsnapshot.RestoreConfig{
		SnapshotPath: snapshotPath, Name: name, OutputDataDir: staging,
		PeerURLs: []string{peer}, InitialCluster: name + "=" + peer,
		RevisionBump: restoreRevisionBump, MarkCompacted: true,
	})
	if err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("restore %s: %w", snapshotPath, err)
	}
	if err := os.Chmod(staging, 0o700); err != nil {
		return "", err
	}
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = fmt.Sprintf("%s.old-%s", dir, now.UTC().Format("20060102T150405Z"))
		if err := os.Rename(dir, old); err != nil {
			return "", fmt.Errorf("keep the old data: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err := os.Rename(staging, dir); err != nil {
		return "", fmt.Errorf("move the restored data in place: %w", err)
	}
	return old, nil
}

// running reports whether a member answers on dir's client socket.
func running(dir string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := Dial(ctx, []string{"unix://" + filepath.Join(dir, clientSocket)}, nil)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
