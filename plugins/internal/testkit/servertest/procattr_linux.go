package servertest

import (
	"os"
	"os/exec"
	"syscall"
)

// dieWithParent makes the child die with the test process, so that a test
// binary killed by a timeout leaves no server behind.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// resume lets a paused (SIGSTOP) process run again, so that it can obey the
// stop signal that follows.
func resume(p *os.Process) { _ = p.Signal(syscall.SIGCONT) }
