package etcd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotRestore saves a snapshot of a running member, writes more,
// and restores the snapshot into the stopped member's data dir: the
// member starts with the snapshot's keys only, its revision is far above
// the lost ones and compacted (watchers from before get 410), and the
// replaced data is kept aside. Restoring under a running member is
// refused.
func TestSnapshotRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "etcd")
	e, stop := start(t, dir)
	c, err := e.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/registry/kept", "1"); err != nil {
		t.Fatal(err)
	}
	ep, err := ClientEndpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snapshots", "s1.db")
	if _, err := Snapshot(ctx, []string{ep}, nil, snap); err != nil {
		t.Fatal(err)
	}
	put, err := c.Put(ctx, "/registry/lost", "2")
	if err != nil {
		t.Fatal(err)
	}
	lostRev := put.Header.Revision
	if _, err := Restore(snap, dir, "", time.Now()); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("restore under a running member: got %v, want refused", err)
	}
	stop()

	old, err := Restore(snap, dir, "", time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := dir + ".old-20261207T180000Z"; old != want {
		t.Errorf("old data kept at %q, want %q", old, want)
	}
	if _, err := os.Stat(filepath.Join(old, "member")); err != nil {
		t.Errorf("old data: %v", err)
	}
	e2, stop2 := start(t, dir)
	defer stop2()
	c2, err := e2.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c2.Get(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	if len(keys) != 1 || keys[0] != "/registry/kept" {
		t.Errorf("after restore: keys %v, want only /registry/kept", keys)
	}
	if resp.Header.Revision < restoreRevisionBump {
		t.Errorf("revision %d after restore, want above %d", resp.Header.Revision, restoreRevisionBump)
	}
	w := c2.Watch(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithRev(lostRev))
	if wr := <-w; wr.CompactRevision == 0 {
		t.Errorf("watch from the lost revision %d: got %+v, want it compacted", lostRev, wr)
	}
}
