// Package etcd3 implements storage.Interface over the etcd v3 API.
//
// Objects are stored as JSON of their versioned type with apiVersion and
// kind set and metadata.resourceVersion cleared; an object read back gets
// the etcd ModRevision of its key as resourceVersion, and a list gets the
// revision it was read at. Every change that touches several keys (an
// object plus its reservation keys) is a single etcd transaction, so a
// crash never leaves half of it written. An object written with a TTL
// (events) is put under an etcd lease, shared with the other objects written
// with the same TTL in a short window, so etcd deletes it (and watchers see
// DELETED) once the TTL has passed.
package etcd3
