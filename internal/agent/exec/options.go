package exec

import (
	"errors"
	"net/url"
)

// Options are the streams and command a client asked for, from the query
// of an exec request (the PodExecOptions parameters).
type Options struct {
	Command []string
	Stdin   bool
	Stdout  bool
	Stderr  bool
	TTY     bool
}

// Errors of ParseOptions, worded as kube-apiserver words them.
var (
	ErrNoCommand = errors.New("you must specify at least one command for the container")
	ErrNoStreams = errors.New("you must specify at least 1 of stdin, stdout, stderr")
)

// ParseOptions reads command (repeated), stdin, stdout, stderr and tty
// from q; booleans are "true" or "1". With tty, stderr is merged into
// stdout, as a terminal has one output.
func ParseOptions(q url.Values) (Options, error) {
	on := func(k string) bool { v := q.Get(k); return v == "true" || v == "1" }
	o := Options{Command: q["command"], Stdin: on("stdin"), Stdout: on("stdout"), Stderr: on("stderr"), TTY: on("tty")}
	if len(o.Command) == 0 {
		return o, ErrNoCommand
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return o, ErrNoStreams
	}
	if o.TTY {
		o.Stderr = false
	}
	return o, nil
}

// Query encodes o as ParseOptions reads it.
func (o Options) Query() url.Values {
	b := func(v bool) []string {
		if v {
			return []string{"true"}
		}
		return []string{"false"}
	}
	return url.Values{"command": o.Command, "stdin": b(o.Stdin), "stdout": b(o.Stdout), "stderr": b(o.Stderr), "tty": b(o.TTY)}
}
