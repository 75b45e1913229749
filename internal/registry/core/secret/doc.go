// Package secret describes the core/v1 secrets resource: its defaulting
// (type Opaque, stringData folded into data), validation of keys, size and
// the per-type required keys (kubernetes.io/tls needs tls.crt and tls.key,
// ...) with upstream's messages and field paths, and the type field
// selector.
package secret
