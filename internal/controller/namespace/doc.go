// Package namespace finishes the deletion of namespaces: once a namespace
// is Terminating it deletes every namespaced object in it, waits until
// they are gone, and then removes the "kubernetes" finalizer through the
// namespaces/finalize subresource so the API server deletes the namespace.
package namespace
