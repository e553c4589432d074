package logwatch

import (
	"io"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	r, pw := io.Pipe()
	w := Watch(r)
	go func() {
		_, _ = io.WriteString(pw, "starting\npipeline started id=main\n")
		time.Sleep(20 * time.Millisecond)
		_, _ = io.WriteString(pw, "reloaded\n")
	}()
	if got := w.Wait(t, "reloaded", 5*time.Second); got != "reloaded" {
		t.Errorf("Wait = %q", got)
	}
	// A line seen before Wait counts.
	if got := w.Wait(t, "started", time.Millisecond); got != "pipeline started id=main" {
		t.Errorf("Wait = %q", got)
	}
	if w.Index("starting") != 0 || w.Index("reloaded") != 2 || w.Index("absent") != -1 {
		t.Errorf("Index: %d %d %d", w.Index("starting"), w.Index("reloaded"), w.Index("absent"))
	}
	if !w.Has("id=main") || w.Has("absent") {
		t.Error("Has")
	}
	if want := "starting\npipeline started id=main\nreloaded\n"; w.String() != want {
		t.Errorf("String = %q; want %q", w.String(), want)
	}
	pw.Close()
}
