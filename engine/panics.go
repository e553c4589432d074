package engine

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// PanicError is a panic recovered from plugin or per-connection code: one
// connection, batch or event fails with it and the process lives on.
type PanicError struct {
	// Where names the code that panicked, e.g. "output elasticsearch/es1".
	Where string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Where, e.Value) }

var (
	panicsRecovered atomic.Int64
	// panicSites are the Where of panics whose stack was logged: a hostile
	// input that makes a handler panic on every connection must not flood the
	// log with stacks.
	panicSites sync.Map
)

// PanicsRecovered is the number of panics recovered in this process (by
// Recovered and the engine's own recovery), for monitoring.
func PanicsRecovered() int64 { return panicsRecovered.Load() }

// Recovered turns a value returned by recover() into a *PanicError, counts
// it and logs it: with its stack the first time where panics, as one line
// after that. It returns nil when r is nil (nothing panicked). Call it as
//
//	defer func() {
//		if perr := engine.Recovered(recover(), log, "tcp connection handler"); perr != nil {
//			err = perr
//		}
//	}()
func Recovered(r any, log *slog.Logger, where string) *PanicError {
	if r == nil {
		return nil
	}
	e := &PanicError{Where: where, Value: r, Stack: debug.Stack()}
	n := panicsRecovered.Add(1)
	if log == nil {
		log = slog.Default()
	}
	if _, seen := panicSites.LoadOrStore(where, true); !seen {
		log.Error(where+" panicked; recovered", "panic", fmt.Sprint(r), "panics_recovered", n, "stack", string(e.Stack))
	} else {
		log.Error(where+" panicked again; recovered (stack logged at the first panic)", "panic", fmt.Sprint(r), "panics_recovered", n)
	}
	return e
}

// Guard runs fn and returns its error, or a *PanicError (counted and logged
// by Recovered) if it panicked.
func Guard(log *slog.Logger, where string, fn func() error) (err error) {
	defer func() {
		if perr := Recovered(recover(), log, where); perr != nil {
			err = perr
		}
	}()
	return fn()
}
