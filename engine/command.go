package engine

import (
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

// Exit codes of the pipeline command and of every Command.
const (
	ExitOK      = 0 // success
	ExitConfig  = 1 // a configuration error (nothing was started), or a check that found a problem
	ExitUsage   = 2 // bad flags or arguments
	ExitRuntime = 3 // a runtime failure (an input failed, a store could not be read, …)
)

// Command is a subcommand of the pipeline command that belongs to a plugin,
// such as the immudb output's `verify`: the plugin registers it from init, so
// main wires it without knowing it.
type Command struct {
	Name     string // e.g. "verify"
	Synopsis string // the usage line's left column, e.g. "verify [flags]"
	Summary  string // one line for the usage text
	// Run runs the command with the arguments after its name and returns an
	// exit code (ExitOK, ExitUsage, …).
	Run func(args []string, env CommandEnv) int
}

// CommandEnv is what main gives a Command: its output streams and the
// configuration front-ends, which plugins cannot import.
type CommandEnv struct {
	Stdout, Stderr io.Writer
	// LoadConfig reads a pipeline file or directory (.conf or .hcl) as
	// `pipeline run -f` does, ${VAR} references resolved.
	LoadConfig func(path string) (*ir.Config, hcl.Diagnostics)
}

var commands = struct {
	sync.RWMutex
	m map[string]Command
}{m: map[string]Command{}}

// RegisterCommand adds c. It panics on an invalid or duplicate name: a
// programming error that the first test run catches.
func RegisterCommand(c Command) {
	if !validName.MatchString(c.Name) || c.Run == nil {
		panic(fmt.Sprintf("engine: invalid command %q", c.Name))
	}
	commands.Lock()
	defer commands.Unlock()
	if _, dup := commands.m[c.Name]; dup {
		panic(fmt.Sprintf("engine: command %q registered twice", c.Name))
	}
	commands.m[c.Name] = c
}

// LookupCommand returns the registered command name.
func LookupCommand(name string) (Command, bool) {
	commands.RLock()
	defer commands.RUnlock()
	c, ok := commands.m[name]
	return c, ok
}

// Commands returns every registered command, sorted by name.
func Commands() []Command {
	commands.RLock()
	defer commands.RUnlock()
	out := make([]Command, 0, len(commands.m))
	for _, c := range commands.m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
