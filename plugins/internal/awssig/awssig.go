// Package awssig signs HTTP requests with AWS Signature Version 4, for the
// outputs that write to Amazon OpenSearch Service (amazon_es, opensearch
// with auth_type aws_iam). It follows AWS's published signing process:
// canonical request, string to sign, a signing key derived per day, region
// and service.
package awssig

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

// Credentials are an access key, its secret and, for temporary credentials,
// a session token.
type Credentials struct {
	AccessKeyID, SecretAccessKey, SessionToken string
}

// FromEnv returns the credentials of the AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN environment variables (as AWS
// SDKs read them first), or an error naming what is missing.
func FromEnv() (Credentials, error) {
	c := Credentials{os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, errors.New("no AWS credentials: set aws_access_key_id and aws_secret_access_key, or the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (instance profiles are not read)")
	}
	return c, nil
}

// Signer signs requests for one region and service ("es" for Amazon
// OpenSearch Service domains).
type Signer struct {
	Credentials
	Region, Service string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// MaxBodyBytes bounds a body read into memory to be hashed.
const MaxBodyBytes = 256 << 20

// Sign adds X-Amz-Date, X-Amz-Security-Token (with a session token) and
// Authorization to req. The body, if any, is read to hash it and put back.
func (s *Signer) Sign(req *http.Request) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	amzDate := t.Format("20060102T150405Z")
	day := amzDate[:8]
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
		req.Body.Close()
		if err != nil {
			return err
		}
		if len(b) > MaxBodyBytes {
			return errors.New("awssig: request body over the signing budget")
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.ContentLength = int64(len(b))
	}
	req.Header.Set("X-Amz-Date", amzDate)
	if s.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", s.SessionToken)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	signed, canonHeaders := canonicalHeaders(req.Header, host)
	payload := sha256.Sum256(body)
	canon := strings.Join([]string{
		req.Method,
		canonicalPath(req.URL),
		canonicalQuery(req.URL.Query()),
		canonHeaders,
		signed,
		hex.EncodeToString(payload[:]),
	}, "\n")
	scope := day + "/" + s.Region + "/" + s.Service + "/aws4_request"
	h := sha256.Sum256([]byte(canon))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	key := SigningKey(s.SecretAccessKey, day, s.Region, s.Service)
	sig := hex.EncodeToString(mac(key, toSign))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+s.AccessKeyID+"/"+scope+", SignedHeaders="+signed+", Signature="+sig)
	return nil
}

// SigningKey derives the key of one day, region and service.
func SigningKey(secret, day, region, service string) []byte {
	k := mac([]byte("AWS4"+secret), day)
	k = mac(k, region)
	k = mac(k, service)
	return mac(k, "aws4_request")
}

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// signedHeaderNames are the headers signed when present; host and
// x-amz-date always are.
var signedHeaderNames = []string{"content-type", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"}

func canonicalHeaders(h http.Header, host string) (signed, canon string) {
	var names []string
	var b strings.Builder
	for _, n := range signedHeaderNames {
		var v string
		if n == "host" {
			v = host
		} else if vs := h.Values(n); len(vs) > 0 {
			for i := range vs {
				vs[i] = strings.Join(strings.Fields(vs[i]), " ")
			}
			v = strings.Join(vs, ",")
		} else {
			continue
		}
		names = append(names, n)
		b.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	return strings.Join(names, ";"), b.String()
}

// canonicalPath URI-encodes each segment of the (already escaped) path
// again, as AWS wants for every service but S3.
func canonicalPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = encode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, encode(k)+"="+encode(v))
		}
	}
	return strings.Join(parts, "&")
}

// encode is RFC 3986 percent-encoding of everything but the unreserved
// characters, upper-case hex.
func encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
