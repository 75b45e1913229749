package agent

import goruntime "runtime"

func goruntimeNumCPU() int { return goruntime.NumCPU() }

func goarch() string { return goruntime.GOARCH }
