// Package controllertest holds what the workload controllers' tests share:
// a fake clientset that fills in server-set metadata and keeps spec and
// status apart as the API server does, and an event recorder that keeps
// what it was given.
package controllertest
