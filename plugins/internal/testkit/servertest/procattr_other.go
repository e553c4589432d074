//go:build !linux

package servertest

import (
	"os"
	"os/exec"
)

func dieWithParent(*exec.Cmd) {}

func resume(*os.Process) {}
