// Package service describes the core/v1 services resource: upstream's
// defaulting (SetDefaults_Service), the create/update/status strategies with
// their type-transition rules, validation with upstream's messages and
// field paths, and the write-path hooks that allocate ClusterIPs and
// NodePorts as reservation keys committed atomically with the Service.
package service
