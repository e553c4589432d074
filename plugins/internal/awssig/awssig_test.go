package awssig

import (
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

// AWS's worked example of Signature Version 4 (IAM ListUsers, 2015-08-30):
// the derived signing key and the Authorization header it documents.
func TestAWSExample(t *testing.T) {
	key := SigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam")
	if got := hex.EncodeToString(key); got != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Errorf("signing key %s", got)
	}
	req, _ := http.NewRequest("GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08", nil)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	s := Signer{Credentials: Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"},
		Region: "us-east-1", Service: "iam", Now: func() time.Time { return time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC) }}
	if err := s.Sign(req); err != nil {
		t.Fatal(err)
	}
	want := "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
}

// A body is hashed and handed on intact; a session token is sent and
// signed; an escaped path is encoded once more.
func TestBodyTokenPath(t *testing.T) {
	req, _ := http.NewRequest("POST", "https://search-x.eu-west-1.es.amazonaws.com/%3Clogs-%7Bnow%2Fd%7D%3E/_bulk", strings.NewReader("{}\n"))
	s := Signer{Credentials: Credentials{"AKID", "SECRET", "TOKEN"}, Region: "eu-west-1", Service: "es"}
	if err := s.Sign(req); err != nil {
		t.Fatal(err)
	}
	a := req.Header.Get("Authorization")
	if !strings.Contains(a, "SignedHeaders=host;x-amz-date;x-amz-security-token,") || req.Header.Get("X-Amz-Security-Token") != "TOKEN" {
		t.Errorf("Authorization %s", a)
	}
	if got := canonicalPath(req.URL); got != "/%253Clogs-%257Bnow%252Fd%257D%253E/_bulk" {
		t.Errorf("canonical path %s", got)
	}
	b := make([]byte, 8)
	n, _ := req.Body.Read(b)
	if string(b[:n]) != "{}\n" {
		t.Errorf("body after signing %q", b[:n])
	}
}
