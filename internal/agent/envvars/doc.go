// Package envvars computes the Service environment variables a container
// sees, named and ordered the way kubelet writes them ({SVC}_SERVICE_HOST,
// {SVC}_PORT_{port}_{PROTO}_ADDR and friends).
package envvars
