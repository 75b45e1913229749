// Package crilog serves `kubectl logs` from the files a CRI runtime such as
// containerd writes for each container.
//
// Each line of such a file is one entry:
//
//	<RFC3339Nano timestamp> <stdout|stderr> <P|F>[:<more tags>] <content>
//
// where P marks a partial entry, whose content continues in the next entry
// with no newline in between, and F the entry that completes a line. Copy
// turns a file of entries back into what the container printed, with the
// options of the kubelet's containerLogs endpoint: timestamps, since, tail,
// a byte limit and follow.
package crilog
