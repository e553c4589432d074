// Package redact removes credentials from URLs before they are printed. Every
// plugin that puts a configured URL in an error or a log line goes through
// URL, including for strings that do not parse: an error about a malformed
// host is exactly where a raw password would otherwise leak.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a password (or a whole userinfo that is not user:password).
const Mask = "xxxxx"

// URL returns raw with the password of its userinfo replaced by Mask; a
// userinfo without a colon (a token as user name) is masked whole. raw need not
// be a valid URL: the authority is found by hand when url.Parse refuses it.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil && u.Opaque == "" {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		u.User = url.User(Mask)
		return u.String()
	}
	// By hand: the authority starts after "scheme://" or "//" (or at the
	// start, for "user:pass@host") and ends at the first / ? or #.
	start := 0
	if i := strings.Index(raw, "//"); i >= 0 {
		start = i + 2
	}
	end := len(raw)
	if i := strings.IndexAny(raw[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndex(raw[start:end], "@")
	if at < 0 {
		return raw
	}
	at += start
	userinfo := raw[start:at]
	masked := Mask
	if c := strings.Index(userinfo, ":"); c >= 0 {
		masked = userinfo[:c+1] + Mask
	}
	return raw[:start] + masked + raw[at:]
}

// Userinfo reports whether raw seems to carry credentials (for messages that
// prefer to say so rather than print even the redacted form).
func Userinfo(raw string) bool { return URL(raw) != raw }
