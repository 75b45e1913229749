// Package runtime runs a pod's containers as host processes inside the pod's
// network namespace (and their own mount, UTS and PID namespaces), through a
// re-exec helper, and supervises them: restart policy with back-off,
// graceful termination and exit codes.
//
// # Supervisors and exit files
//
// A container with a record (ContainerSpec.StatePath) runs under a
// supervising parent, the helper run with --exit-file (supervisor.go), that
// outlives the agent and writes the container process's exit status to
// <container>.exit. The agent learns of a run's end from its supervisor's
// end (by wait for its own child, through a pidfd after re-adopting it) and
// takes the status from that file in both cases, so re-adopted processes
// report real exit codes. A graceful stop that kills the containers records
// their runs' ends for the next agent to apply the restart policy to.
//
// # Volume mounts
//
// The helper bind-mounts each of a container's volumes (ContainerSpec.Mounts)
// in the container's private mount namespace, parents before children, then
// the pod's resolv.conf and hosts. The host's filesystem is never changed: a
// mountPath that does not exist on the host (/etc/nginx/ssl) is made by
// shadowing its nearest existing ancestor (/etc) with a tmpfs, visible only
// in that namespace, into which every original entry is put back (files and
// directories by recursive bind mounts from the covered directory, reached
// through an open descriptor; symlinks as copies), and the missing
// directories are created in the tmpfs. Inside the container, existing files
// and directories under the ancestor remain the host's (writes to them reach
// the host, as before), while new entries created directly in the ancestor
// live in the tmpfs and vanish with the container. An overlayfs with the
// host directory as lowerdir would hide mounts below it and needs an upper
// directory on a filesystem that supports it; the tmpfs shadow works on any
// filesystem. When the nearest ancestor is / itself (a mountPath such as
// /data), mounting over / would not change what "/" resolves to: the new
// root is built the same way on a stage (a tmpfs over /tmp, whose own
// entry is bound back from below it), moved onto / and entered with
// chroot, as switch_root does; the working directory is kept.
// Exec probes and kubectl exec get the same mounts, since every process of
// a container is started by the helper from the same ContainerSpec.
package runtime
