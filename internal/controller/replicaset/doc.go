// Package replicaset is the ReplicaSet controller: it keeps spec.replicas
// pods that match a ReplicaSet's selector and are controlled by it (an
// ownerReference with controller=true), adopting matching orphans,
// releasing pods that stop matching, creating and deleting pods through
// the API and writing the ReplicaSet's status. Expectations keep it from
// acting twice while its informers catch up with its own writes.
package replicaset
