package netflow

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// Saving the template cache does not hold the cache's lock: while the save
// waits on a slow disk (here the file it writes is a FIFO nobody reads
// yet), other decoders of the codec go on decoding with the new template.
// (Before, they waited for the save.)
func TestTemplateCacheSavedOutsideLock(t *testing.T) {
	dir := t.TempDir()
	var fifos []string
	for _, v := range []uint16{9, 10} {
		p := cacheFile(dir, v) + ".tmp"
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Fatal(err)
		}
		fifos = append(fifos, p)
	}
	tmpl, data, _ := v9Packets()
	c := plugintest.MustNew(t, New, `cache_save_path = "`+dir+`"`, engine.Resources{})
	saved := make(chan struct{})
	go func() { defer close(saved); _ = decodeAll(c, tmpl) }() // blocks in the save
	release := func() {
		for _, p := range fifos {
			go func() {
				if f, err := os.Open(p); err == nil { // pairs with the writer
					_, _ = io.Copy(io.Discard, f)
					f.Close()
				}
			}()
		}
		select {
		case <-saved:
		case <-time.After(20 * time.Second):
			t.Error("the save did not end within 20 s of the cache files being read")
		}
	}
	defer func() {
		if t.Failed() {
			return
		}
		release()
		if _, err := os.Stat(filepath.Join(dir, "netflow_templates.cache")); err != nil {
			t.Errorf("the cache was not saved: %v", err)
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got := make(chan string, 1)
		go func() { got <- decodeAll(c, data) }()
		select {
		case s := <-got:
			if strings.Count(s, "\n") == 2 {
				return // decoded with the template while its save waits
			}
		case <-time.After(5 * time.Second):
			release()
			t.Fatal("decoding waited 5 s for the template cache's save")
		}
		if time.Now().After(deadline) {
			release()
			t.Fatal("the data packet never decoded with the template")
		}
	}
}
