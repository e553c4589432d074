package zinctest

import (
	"bytes"
	"net/http"
	"testing"
	"time"
)

// TestStartBulkCountRestart starts a server, stores documents with the bulk
// API, counts them by search, and finds them again after a restart on the
// same port and data.
func TestStartBulkCountRestart(t *testing.T) {
	s := Start(t)
	var body bytes.Buffer
	for range 30 {
		body.WriteString(`{"index":{"_index":"zt-a"}}` + "\n" + `{"msg":"hello"}` + "\n")
	}
	req, _ := http.NewRequest("POST", s.URL()+"/_bulk", &body)
	req.SetBasicAuth(User, Password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("bulk: %s", res.Status)
	}
	if n, err := s.WaitCount("zt-a", 30, 20*time.Second); err != nil || n != 30 {
		t.Fatalf("count = %d, %v; want 30", n, err)
	}
	if n, err := s.Count("zt-missing"); err != nil || n != 0 {
		t.Fatalf("count of a missing index = %d, %v; want 0, nil", n, err)
	}
	s.Restart()
	if n, err := s.WaitCount("zt-a", 30, 20*time.Second); err != nil || n != 30 {
		t.Fatalf("after restart: count = %d, %v; want 30", n, err)
	}
}
