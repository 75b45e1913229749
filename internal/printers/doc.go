// Package printers builds the server-side Table representation (what
// `kubectl get` prints) of the kinds svcnet serves, with the columns,
// column order, priorities and cell formatting of kube-apiserver's
// printers. Each exported function has the registry.TableFunc signature;
// For maps a GroupVersionResource to its function.
//
// Like kube-apiserver, every table carries the wide (Priority 1) columns;
// kubectl hides them unless asked for -o wide.
package printers
