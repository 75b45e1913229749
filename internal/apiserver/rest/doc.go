// Package rest serves the Kubernetes REST verbs (get, list, watch, create,
// update, patch, delete, deletecollection) and the status and scale
// subresources for one registry.Resource over a storage.Interface.
//
// Every write goes through the same pipeline: decode (with field
// validation) -> Strategy.Default -> PrepareForCreate/PrepareForUpdate ->
// Validate -> managedFields -> Hooks (allocation) -> storage, so that
// create, update, patch and server-side apply cannot drift apart.
package rest
