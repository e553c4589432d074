// Package dns implements the dns filter, like Logstash's: it replaces or
// extends fields holding host names with their address (resolve) and fields
// holding addresses with their host name (reverse).
//
// Names are looked up, in order, in the files of hostsfile, in the system's
// hosts file (/etc/hosts) and then over DNS: at the servers of nameserver,
// or the system's (resolv.conf) when nameserver is not set. A forward lookup
// takes the first IPv4 address, else the first IPv6 one; a reverse lookup
// the first PTR name. Names are converted with IDNA (punycode) as Logstash's
// java.net.IDN does.
//
// As in Logstash, each field of resolve, then of reverse, is processed in
// turn: a missing field is skipped; a field holding several values, a value
// that is not a string, a reverse value that is not an IP address, a name
// that does not resolve or a lookup that times out stops the filter there,
// without the common options (add_field, add_tag…); a timeout (after
// max_retries retries) also adds tag_on_timeout. action "append" turns the
// field into [original, result] (or appends to a one-element array),
// "replace" replaces it. hit_cache_size and failed_cache_size keep that many
// answers and failures for hit_cache_ttl and failed_cache_ttl seconds.
//
// Deviations: nameserver takes addresses (a string or a list), not
// Logstash's hash form with search and ndots; an address may carry a port
// ("127.0.0.1:5353", "[::1]:5353"), 53 otherwise.
package dns

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/idna"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("dns", New) }

// Options configures the dns filter.
type Options struct {
	// Resolve lists the fields whose host name is looked up and replaced or
	// extended with its address.
	Resolve []string `hcl:"resolve,optional"`
	// Reverse lists the fields whose IP address is looked up and replaced
	// or extended with its host name.
	Reverse []string `hcl:"reverse,optional"`
	// Action is "append" (the field becomes [original, result]) or
	// "replace".
	Action string `hcl:"action,optional"`
	// Nameserver lists the DNS servers to ask, by address, with an optional
	// port ("10.0.0.1", "10.0.0.1:5353"); empty: the system's.
	Nameserver engine.StringList `hcl:"nameserver,optional"`
	// Hostsfile lists hosts files read before the system's, in the
	// /etc/hosts format; a file that does not exist is empty.
	Hostsfile []string `hcl:"hostsfile,optional"`
	// Timeout is the time in seconds one lookup may take.
	Timeout float64 `hcl:"timeout,optional"`
	// MaxRetries is how many times a lookup that timed out is tried again.
	MaxRetries int `hcl:"max_retries,optional"`
	// HitCacheSize is how many successful lookups are kept (0: none).
	HitCacheSize int `hcl:"hit_cache_size,optional"`
	// HitCacheTTL is how long, in seconds, a successful lookup is kept.
	HitCacheTTL float64 `hcl:"hit_cache_ttl,optional"`
	// FailedCacheSize is how many failed lookups (not found, timed out) are
	// kept, so they are not tried again for a while (0: none).
	FailedCacheSize int `hcl:"failed_cache_size,optional"`
	// FailedCacheTTL is how long, in seconds, a failed lookup is kept.
	FailedCacheTTL float64 `hcl:"failed_cache_ttl,optional"`
	// TagOnTimeout are the tags added when a lookup times out.
	TagOnTimeout engine.StringList `hcl:"tag_on_timeout,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Action = "append"
	o.Timeout = 0.5
	o.MaxRetries = 2
	o.HitCacheTTL = 60
	o.FailedCacheTTL = 5
	o.TagOnTimeout = engine.StringList{"_dnstimeout"}
}

// Validate checks the options.
func (o *Options) Validate() error {
	for _, f := range o.Resolve {
		if _, err := event.ParseRef(f); err != nil {
			return &engine.FieldError{Field: "resolve", Err: fmt.Errorf("field %q: %w", f, err)}
		}
	}
	for _, f := range o.Reverse {
		if _, err := event.ParseRef(f); err != nil {
			return &engine.FieldError{Field: "reverse", Err: fmt.Errorf("field %q: %w", f, err)}
		}
	}
	switch {
	case o.Action != "append" && o.Action != "replace":
		return &engine.FieldError{Field: "action", Err: fmt.Errorf(`want "append" or "replace"; got %q`, o.Action)}
	case o.Timeout <= 0:
		return &engine.FieldError{Field: "timeout", Err: errors.New("must be positive")}
	case o.MaxRetries < 0:
		return &engine.FieldError{Field: "max_retries", Err: errors.New("must be 0 or more")}
	case o.HitCacheSize < 0:
		return &engine.FieldError{Field: "hit_cache_size", Err: errors.New("must be 0 or more")}
	case o.FailedCacheSize < 0:
		return &engine.FieldError{Field: "failed_cache_size", Err: errors.New("must be 0 or more")}
	case o.HitCacheTTL <= 0:
		return &engine.FieldError{Field: "hit_cache_ttl", Err: errors.New("must be positive")}
	case o.FailedCacheTTL <= 0:
		return &engine.FieldError{Field: "failed_cache_ttl", Err: errors.New("must be positive")}
	}
	for _, ns := range o.Nameserver {
		if nameserverAddr(ns) == "" {
			return &engine.FieldError{Field: "nameserver", Err: fmt.Errorf("%q is not an IP address, with an optional port", ns)}
		}
	}
	return nil
}

// nameserverAddr is ns as host:port, port 53 by default; "" when ns is not
// an IP address.
func nameserverAddr(ns string) string {
	ns = strings.TrimSpace(ns)
	if a, err := netip.ParseAddr(ns); err == nil {
		return netip.AddrPortFrom(a, 53).String()
	}
	if ap, err := netip.ParseAddrPort(ns); err == nil {
		return ap.String()
	}
	return ""
}

// Filter is the dns filter. It is safe for concurrent use.
type Filter struct {
	resolve, reverse []event.Ref
	replace          bool
	timeout          time.Duration
	retries          int
	tags             []string
	resolver         *net.Resolver
	absolute         bool // names are asked as absolute (custom nameservers: no search list)
	hosts            []string
	hit, failed      *cache
	log              *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New builds a dns filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{replace: o.Action == "replace", timeout: time.Duration(o.Timeout * float64(time.Second)),
		retries: o.MaxRetries, tags: slices.Clone(o.TagOnTimeout), hosts: slices.Clone(o.Hostsfile), log: r.Logger,
		resolver: net.DefaultResolver}
	if f.log == nil {
		f.log = slog.Default()
	}
	for _, s := range o.Resolve {
		f.resolve = append(f.resolve, event.MustRef(s))
	}
	for _, s := range o.Reverse {
		f.reverse = append(f.reverse, event.MustRef(s))
	}
	if len(o.Nameserver) > 0 {
		addrs := make([]string, len(o.Nameserver))
		for i, ns := range o.Nameserver {
			addrs[i] = nameserverAddr(ns)
		}
		var next atomic.Uint32
		var d net.Dialer
		f.resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addrs[int(next.Add(1)-1)%len(addrs)])
		}}
		f.absolute = true
	}
	if o.HitCacheSize > 0 {
		f.hit = newCache(o.HitCacheSize, time.Duration(o.HitCacheTTL*float64(time.Second)))
	}
	if o.FailedCacheSize > 0 {
		f.failed = newCache(o.FailedCacheSize, time.Duration(o.FailedCacheTTL*float64(time.Second)))
	}
	return f, nil
}

var errStopped = fmt.Errorf("dns: %w", engine.ErrNotApplied)

// Filter looks up the fields of e.
func (f *Filter) Filter(ctx context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	for _, ref := range f.resolve {
		if !f.field(ctx, e, ref, false) {
			return out, errStopped
		}
	}
	for _, ref := range f.reverse {
		if !f.field(ctx, e, ref, true) {
			return out, errStopped
		}
	}
	return out, nil
}

// field looks up one field; false stops the filter (logstash's "return").
func (f *Filter) field(ctx context.Context, e *event.Event, ref event.Ref, reverse bool) bool {
	raw, ok := e.Get(ref)
	if !ok || raw == nil {
		f.log.Warn("dns: missing field", "field", ref.String())
		return true
	}
	arr, isArr := raw.([]any)
	if isArr {
		if len(arr) > 1 {
			f.log.Warn("dns: skipping, cannot deal with multiple values", "field", ref.String())
			return false
		}
		if len(arr) == 1 {
			raw = arr[0]
		}
	}
	s, ok := raw.(string)
	if !ok {
		f.log.Warn("dns: skipping, cannot deal with non-string values", "field", ref.String())
		return false
	}
	if reverse {
		if _, err := netip.ParseAddr(s); err != nil {
			return false
		}
	}
	if f.failed != nil && f.failed.has(s) {
		return false
	}
	result, found := "", false
	if f.hit != nil {
		result, found = f.hit.get(s)
	}
	if !found {
		var err error
		result, err = f.lookup(ctx, s, reverse)
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsTimeout, errors.Is(err, context.DeadlineExceeded):
			if f.failed != nil {
				f.failed.put(s, "")
			}
			e.AddTag(f.tags...)
			return false
		case err != nil:
			f.log.Error("dns: lookup failed", "field", ref.String(), "err", err)
			return false
		case result == "":
			if f.failed != nil {
				f.failed.put(s, "")
			}
			return false
		}
		if f.hit != nil {
			f.hit.put(s, result)
		}
	}
	var v any = result
	switch {
	case f.replace && isArr:
		v = []any{result}
	case !f.replace && isArr:
		v = append(slices.Clone(arr), result)
	case !f.replace:
		v = []any{s, result}
	}
	_ = e.Set(ref, v)
	return true
}

// lookup resolves s with retries on timeouts; "" with a nil error: not found.
func (f *Filter) lookup(ctx context.Context, s string, reverse bool) (string, error) {
	for try := 0; ; try++ {
		r, err := f.lookupOnce(ctx, s, reverse)
		var de *net.DNSError
		timeout := errors.As(err, &de) && de.IsTimeout || errors.Is(err, context.DeadlineExceeded)
		if !timeout || try >= f.retries || ctx.Err() != nil {
			return r, err
		}
	}
}

func (f *Filter) lookupOnce(ctx context.Context, s string, reverse bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if reverse {
		if name := f.hostsName(s); name != "" {
			return name, nil
		}
		names, err := f.resolver.LookupAddr(ctx, s)
		if notFound(err) || err == nil && len(names) == 0 {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		name := strings.TrimSuffix(names[0], ".")
		if u, err := idna.ToUnicode(name); err == nil {
			name = u
		}
		return name, nil
	}
	name := s
	if a, err := idna.ToASCII(s); err == nil {
		name = a
	}
	if addr := f.hostsAddr(name); addr != "" {
		return addr, nil
	}
	q := name
	if f.absolute && !strings.HasSuffix(q, ".") {
		q += "."
	}
	for _, network := range []string{"ip4", "ip6"} {
		ips, err := f.resolver.LookupNetIP(ctx, network, q)
		if notFound(err) || err == nil && len(ips) == 0 {
			continue
		}
		if err != nil {
			return "", err
		}
		return ips[0].Unmap().String(), nil
	}
	return "", nil
}

func notFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// hostsAddr and hostsName look name or addr up in the hostsfile files, in
// order, read on each lookup (as Ruby's Resolv::Hosts does lazily, without
// reloading; answers are cached by the hit cache).
func (f *Filter) hostsAddr(name string) string {
	var found string
	f.eachHost(func(addr string, names []string) bool {
		for _, n := range names {
			if strings.EqualFold(n, name) {
				found = addr
				return false
			}
		}
		return true
	})
	return found
}

func (f *Filter) hostsName(addr string) string {
	want, _ := netip.ParseAddr(addr)
	var found string
	f.eachHost(func(a string, names []string) bool {
		if p, err := netip.ParseAddr(a); err == nil && p == want && len(names) > 0 {
			found = names[0]
			return false
		}
		return true
	})
	return found
}

// maxHostsFile bounds what is read of one hosts file.
const maxHostsFile = 16 << 20

func (f *Filter) eachHost(fn func(addr string, names []string) bool) {
	for _, file := range f.hosts {
		b, err := readLimited(file, maxHostsFile)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			line, _, _ = strings.Cut(line, "#")
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			if !fn(fields[0], fields[1:]) {
				return
			}
		}
	}
}

func readLimited(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b := make([]byte, 0, 4096)
	buf := make([]byte, 32<<10)
	for int64(len(b)) < limit {
		n, err := fh.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	if int64(len(b)) > limit {
		b = b[:limit]
	}
	return b, nil
}

// cache is a least-recently-used cache whose entries expire after ttl,
// safe for concurrent use.
type cache struct {
	mu    sync.Mutex
	size  int
	ttl   time.Duration
	order *list.List // front: most recent
	items map[string]*list.Element
}

type entry struct {
	key, value string
	expires    time.Time
}

func newCache(size int, ttl time.Duration) *cache {
	return &cache{size: size, ttl: ttl, order: list.New(), items: make(map[string]*list.Element, min(size, 1024))}
}

func (c *cache) get(k string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return "", false
	}
	en := el.Value.(*entry)
	if time.Now().After(en.expires) {
		c.order.Remove(el)
		delete(c.items, k)
		return "", false
	}
	c.order.MoveToFront(el)
	return en.value, true
}

func (c *cache) has(k string) bool {
	_, ok := c.get(k)
	return ok
}

func (c *cache) put(k, v string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		en := el.Value.(*entry)
		en.value, en.expires = v, time.Now().Add(c.ttl)
		c.order.MoveToFront(el)
		return
	}
	c.items[k] = c.order.PushFront(&entry{key: k, value: v, expires: time.Now().Add(c.ttl)})
	for c.order.Len() > c.size {
		el := c.order.Back()
		c.order.Remove(el)
		delete(c.items, el.Value.(*entry).key)
	}
}
