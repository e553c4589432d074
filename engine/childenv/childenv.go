// Package childenv builds the environment of the processes that plugins
// start (the exec input's command, the ruby filter's interpreter, …): the
// engine's own environment without the variables that hold its secrets.
//
// A child inherits the whole environment by default. An encryption key given
// as env:NAME (queue.encryption_key_path and the dead letter queue's), or a
// password given to a secret option as ${VAR}, would then be readable by
// every command a pipeline runs, and by whatever that command logs or
// forwards. Whoever reads a secret from the environment calls Hide with the
// variable's name; every plugin that starts a process sets its Env to
// Environ().
package childenv

import (
	"os"
	"strings"
	"sync"
)

var (
	mu     sync.RWMutex
	hidden = map[string]bool{}
)

// maxHidden bounds the names kept: a configuration names a handful of
// secrets; past this many, names are still hidden from children only if
// already recorded (a reload loop must not grow the set without end).
const maxHidden = 4096

// Hide keeps the variable name out of every child's environment from now on.
func Hide(names ...string) {
	mu.Lock()
	defer mu.Unlock()
	for _, n := range names {
		if n != "" && len(hidden) < maxHidden {
			hidden[n] = true
		}
	}
}

// Hidden reports whether name is kept out of children's environments.
func Hidden(name string) bool {
	mu.RLock()
	defer mu.RUnlock()
	return hidden[name]
}

// Environ is the environment for a child process: os.Environ() without the
// hidden variables. Set it as exec.Cmd.Env.
func Environ() []string {
	env := os.Environ()
	mu.RLock()
	defer mu.RUnlock()
	out := env[:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !hidden[name] {
			out = append(out, kv)
		}
	}
	return out
}
