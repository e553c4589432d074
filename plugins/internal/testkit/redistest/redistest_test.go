package redistest

import "testing"

func TestStartStopRestart(t *testing.T) {
	s := Start(t)
	if !ping(s.Addr()) {
		t.Fatal("no PING answer after Start")
	}
	s.Stop()
	if ping(s.Addr()) {
		t.Fatal("PING answered after Stop")
	}
	s.Restart()
	if !ping(s.Addr()) {
		t.Fatal("no PING answer after Restart")
	}
}

func TestCPU(t *testing.T) {
	s := Start(t)
	d, err := s.CPU()
	if err != nil || d <= 0 {
		t.Fatalf("CPU = %v, %v", d, err)
	}
}
