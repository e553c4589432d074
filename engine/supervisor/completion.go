package supervisor

import (
	"fmt"
	"io"
	"strings"

	"github.com/pipelined/pipeline/engine"
)

// pathFlags take a file or directory: completion offers file names after them.
var pathFlags = []string{"f", "path.config", "pipelines", "path.settings", "path.data", "path.logs", "l", "path.queue",
	"path.dead_letter_queue", "api.auth.basic.password_file"}

// Completion writes the shell completion script of `pipeline completion
// SHELL` (bash or zsh) for the commands given and run's flags.
func Completion(args []string, commands []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || (args[0] != "bash" && args[0] != "zsh") {
		fmt.Fprintln(stderr, "pipeline completion: give bash or zsh, e.g. pipeline completion bash > /etc/bash_completion.d/pipeline")
		return engine.ExitUsage
	}
	var flags []string
	for _, n := range CommandFlagNames() {
		if len(n) == 1 {
			flags = append(flags, "-"+n)
		} else {
			flags = append(flags, "--"+n)
		}
	}
	var paths []string
	for _, n := range pathFlags {
		if len(n) == 1 {
			paths = append(paths, "-"+n)
		} else {
			paths = append(paths, "--"+n)
		}
	}
	var b strings.Builder
	if args[0] == "zsh" {
		// zsh runs the bash function through its bash completion layer.
		b.WriteString("#compdef pipeline\nautoload -U +X bashcompinit && bashcompinit\n")
	}
	fmt.Fprintf(&b, `# pipeline %s completion: source it, or install it in the shell's completion directory.
_pipeline() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	if [ "$COMP_CWORD" -eq 1 ] && [[ $cur != -* ]]; then
		COMPREPLY=($(compgen -W %q -- "$cur"))
		return
	fi
	case $prev in
	%s)
		COMPREPLY=($(compgen -f -- "$cur"))
		return ;;
	esac
	case ${COMP_WORDS[1]} in
	run|check|-*)
		COMPREPLY=($(compgen -W %q -- "$cur")) ;;
	completion)
		COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
	*)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	esac
}
complete -o default -F _pipeline pipeline
`, args[0], strings.Join(commands, " "), strings.Join(paths, "|"), strings.Join(flags, " "))
	_, _ = io.WriteString(stdout, b.String())
	return engine.ExitOK
}
