// Package runtime runs a pod's containers as host processes inside the pod's
// network namespace (and their own mount, UTS and PID namespaces), through a
// re-exec helper, and supervises them: restart policy with back-off,
// graceful termination and exit codes.
package runtime
