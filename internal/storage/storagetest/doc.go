// Package storagetest is the conformance suite of storage.Interface: every
// implementation runs Run against a real backend.
package storagetest
