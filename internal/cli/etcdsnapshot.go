package cli

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/svcnet/svcnet/internal/etcd"
	"github.com/svcnet/svcnet/internal/server"
)

// newEtcdSnapshotCommand saves and restores snapshots of the embedded etcd
// of `svcnet server`, as k3s's etcd-snapshot does.
func newEtcdSnapshotCommand() *cobra.Command {
	dataDir := server.DefaultConfig().DataDir
	cmd := &cobra.Command{
		Use:   "etcd-snapshot",
		Short: "Save or restore snapshots of the server's embedded etcd",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", dataDir, "the server's --data-dir")

	var name, dir string
	save := &cobra.Command{
		Use:   "save",
		Short: "Save a snapshot of the running server's etcd into <data-dir>/snapshots (or --dir)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			etcdDir := filepath.Join(dataDir, "etcd")
			ep, err := etcd.ClientEndpoint(etcdDir)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = filepath.Join(dataDir, "snapshots")
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%s.db", name, time.Now().UTC().Format("20060102T150405Z")))
			version, err := etcd.Snapshot(cmd.Context(), []string{ep}, nil, path)
			if err != nil {
				return err
			}
			slog.Info("Saved etcd snapshot", "path", path, "etcdVersion", version)
			return nil
		},
	}
	save.Flags().StringVar(&name, "name", "on-demand", "first part of the snapshot's file name")
	save.Flags().StringVar(&dir, "dir", "", "directory of the snapshot (default: <data-dir>/snapshots)")

	restore := &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the stopped server's etcd data by a snapshot (the old data is kept beside it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			old, err := etcd.Restore(args[0], filepath.Join(dataDir, "etcd"), "", time.Now())
			if err != nil {
				return err
			}
			slog.Info("Restored etcd snapshot; start the server again", "snapshot", args[0], "previousData", old)
			return nil
		},
	}
	cmd.AddCommand(save, restore)
	return cmd
}
