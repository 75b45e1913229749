// Package statefulset is the StatefulSet controller: it keeps pods named
// "<set>-0".."<set>-(n-1)" with hostname = pod name and subdomain =
// spec.serviceName, creating them in order (each only once the previous
// one is Running and Ready) under OrderedReady or all at once under
// Parallel, removing the highest ordinals first on scale down, recording
// each pod template as a ControllerRevision and rolling template changes
// from the highest ordinal down.
package statefulset
