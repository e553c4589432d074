package ack

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestReleaseFiresOnceWithWorstStatus(t *testing.T) {
	var calls atomic.Int64
	var got error
	var fired atomic.Int64
	tr := New(3, func(err error) { calls.Add(1); got = err }, &fired)
	tr.Retain(2) // two clones
	boom := errors.New("boom")
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i == 2 {
				tr.Release(boom)
				return
			}
			tr.Release(nil)
		}(i)
	}
	wg.Wait()
	if calls.Load() != 1 || fired.Load() != 1 {
		t.Fatalf("ack fired %d times (counter %d); want 1", calls.Load(), fired.Load())
	}
	if !errors.Is(got, boom) {
		t.Fatalf("ack error = %v; want %v", got, boom)
	}
}

func TestOverReleasePanics(t *testing.T) {
	tr := New(1, func(error) {}, nil)
	tr.Release(nil)
	defer func() {
		if recover() == nil {
			t.Fatal("second release did not panic")
		}
	}()
	tr.Release(nil)
}
