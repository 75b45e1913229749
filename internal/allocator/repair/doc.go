// Package repair reconciles the ClusterIP and NodePort reservation keys in
// storage with the Services that hold them, like upstream's repair
// controllers: a value a Service uses without a reservation gets one, and a
// reservation whose owner no longer uses it is released once the leak has
// been seen in two consecutive runs, so a write in flight is never broken.
// Each run also rebuilds the allocators' in-memory bitmaps.
package repair
