// Package cli defines svcnet's command line: the cobra commands and their
// flags, which it turns into component configurations.
package cli
