// Package configmap describes the core/v1 configmaps resource: its
// validation (keys, the shared size limit of data and binaryData, the
// immutable flag) with upstream's messages and field paths.
package configmap
