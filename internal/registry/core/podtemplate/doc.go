// Package podtemplate holds the PodSpec and PodTemplateSpec defaulting and
// validation shared by pods and the workload kinds that embed a pod template
// (deployments, replica sets, stateful sets). It works directly on the
// versioned core/v1 types and reproduces upstream's defaults, field paths and
// error messages (pkg/apis/core/v1/defaults.go and
// pkg/apis/core/validation).
package podtemplate
