// Package cidr implements the cidr filter, like Logstash's: it checks whether
// an event's IP addresses fall in any of a set of networks, and applies the
// common options (add_tag, add_field…) only when one does. It changes nothing
// else.
//
// The addresses are the address templates, each rendered from the event, or
// the values of address_field (one or a list). The networks are the network
// templates, each rendered and split at commas (so "%{[list]}" of a list
// field works), or the entries of the file network_path, split at separator.
// Addresses and networks are read as Ruby's IPAddr reads them: IPv4 or IPv6,
// "10.0.0.0/8", "10.0.0.0/255.0.0.0", "[::1]", a host being a network of
// one; bits beyond the prefix are ignored. An IPv4 address never matches an
// IPv6 network nor the reverse. An entry that is not an address is skipped
// (and logged at debug level for events, once per load for a file); a
// network without "%{" that is not one is refused at check.
//
// The file is read at start (a missing, unreadable or empty file fails the
// build) and again every refresh_interval seconds, checked as events arrive;
// a reload that fails keeps the networks already loaded and logs an error. It
// may hold at most NetworkFileBudget bytes.
package cidr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("cidr", New) }

// NetworkFileBudget is the largest network_path file read, in bytes.
const NetworkFileBudget = 16 << 20

// Options configures the cidr filter.
type Options struct {
	// Address are sprintf templates of the addresses to check, such as
	// "%{clientip}".
	Address []string `hcl:"address,optional"`
	// AddressField is a field holding the address, or a list of them; it
	// cannot be used with address.
	AddressField string `hcl:"address_field,optional"`
	// Network are sprintf templates of the networks, each one or several
	// separated by commas; it cannot be used with network_path.
	Network []string `hcl:"network,optional"`
	// NetworkPath is a file listing the networks, separated by separator.
	NetworkPath string `hcl:"network_path,optional"`
	// RefreshInterval is how often network_path is read again, in seconds.
	RefreshInterval float64 `hcl:"refresh_interval,optional"`
	// Separator separates the networks in network_path.
	Separator string `hcl:"separator,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.RefreshInterval = 600
	o.Separator = "\n"
}

// Validate checks the options without reading the file.
func (o *Options) Validate() error {
	if o.NetworkPath != "" && len(o.Network) > 0 {
		return &engine.FieldError{Field: "network_path", Err: errors.New("the configuration options 'network' and 'network_path' are mutually exclusive")}
	}
	if o.AddressField != "" && len(o.Address) > 0 {
		return &engine.FieldError{Field: "address_field", Err: errors.New("the configuration options 'address' and 'address_field' are mutually exclusive")}
	}
	if o.AddressField != "" {
		if _, err := event.ParseRef(o.AddressField); err != nil {
			return &engine.FieldError{Field: "address_field", Err: err}
		}
	}
	for _, a := range o.Address {
		if _, err := event.ParseTemplate(a); err != nil {
			return &engine.FieldError{Field: "address", Err: err}
		}
	}
	for _, n := range o.Network {
		t, err := event.ParseTemplate(n)
		if err != nil {
			return &engine.FieldError{Field: "network", Err: err}
		}
		if t.IsConstant() {
			for _, part := range strings.Split(n, ",") {
				if _, ok := ParseIPAddr(strings.TrimSpace(part)); !ok {
					return &engine.FieldError{Field: "network", Err: fmt.Errorf("%q is not an IP network", strings.TrimSpace(part))}
				}
			}
		}
	}
	if o.NetworkPath != "" && o.Separator == "" {
		return &engine.FieldError{Field: "separator", Err: errors.New("the separator must not be empty")}
	}
	return nil
}

// Filter is the cidr filter. It is safe for concurrent use.
type Filter struct {
	addresses    []event.Template
	addressField event.Ref
	useField     bool
	networks     []event.Template
	fixed        []netip.Prefix // the networks when none is a template

	path      string
	separator string
	refresh   time.Duration
	fromFile  atomic.Pointer[[]netip.Prefix]
	next      atomic.Int64 // unix nanoseconds of the next reload
	reloading sync.Mutex
	logger    *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New builds a cidr filter, reading network_path.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{path: o.NetworkPath, separator: o.Separator, refresh: time.Duration(o.RefreshInterval * float64(time.Second)), logger: r.Logger}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	for _, a := range o.Address {
		f.addresses = append(f.addresses, event.MustTemplate(a))
	}
	if o.AddressField != "" {
		f.addressField, f.useField = event.MustRef(o.AddressField), true
	}
	constant := true
	for _, n := range o.Network {
		t := event.MustTemplate(n)
		f.networks = append(f.networks, t)
		constant = constant && t.IsConstant()
	}
	if constant {
		for _, n := range o.Network {
			f.fixed = appendNetworks(f.fixed, n, nil)
		}
		f.networks = nil
	}
	if f.path != "" {
		nets, err := f.load()
		if err != nil {
			return nil, &engine.FieldError{Field: "network_path", Err: err}
		}
		f.fromFile.Store(&nets)
		f.next.Store(time.Now().Add(f.refresh).UnixNano())
	}
	return f, nil
}

// appendNetworks appends the comma-separated networks of s, skipping those
// that are not networks.
func appendNetworks(dst []netip.Prefix, s string, logger *slog.Logger) []netip.Prefix {
	for _, part := range strings.Split(s, ",") {
		p, ok := ParseIPAddr(strings.TrimSpace(part))
		if !ok {
			if logger != nil {
				logger.Debug("cidr: invalid IP network, skipping", "network", part)
			}
			continue
		}
		dst = append(dst, p)
	}
	return dst
}

// load reads network_path.
func (f *Filter) load() ([]netip.Prefix, error) {
	file, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, NetworkFileBudget+1))
	if err != nil {
		return nil, err
	}
	if len(b) > NetworkFileBudget {
		return nil, fmt.Errorf("%s: larger than %d bytes", f.path, NetworkFileBudget)
	}
	var nets []netip.Prefix
	entries := strings.Split(string(b), f.separator)
	for len(entries) > 0 && entries[len(entries)-1] == "" {
		entries = entries[:len(entries)-1] // Ruby's split drops trailing empty entries
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: no networks: check the separator", f.path)
	}
	var bad []string
	for _, n := range entries {
		p, ok := ParseIPAddr(n)
		if !ok {
			bad = append(bad, n)
			continue
		}
		nets = append(nets, p)
	}
	if len(bad) > 0 {
		f.logger.Warn("cidr: invalid IP networks in the file, skipped", "path", f.path, "count", len(bad), "first", bad[0])
	}
	return nets, nil
}

// fileNetworks returns the networks of the file, reloading it when due.
func (f *Filter) fileNetworks() []netip.Prefix {
	if time.Now().UnixNano() > f.next.Load() && f.reloading.TryLock() {
		// One event reloads; the others meanwhile use the networks they find.
		if now := time.Now(); now.UnixNano() > f.next.Load() {
			if nets, err := f.load(); err != nil {
				f.logger.Error("cidr: reading the network file failed; keeping the networks loaded before", "path", f.path, "err", err)
			} else {
				f.fromFile.Store(&nets)
			}
			f.next.Store(now.Add(f.refresh).UnixNano())
		}
		f.reloading.Unlock()
	}
	return *f.fromFile.Load()
}

// Filter checks e's addresses; the engine applies the common options only to
// an event that matched.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	addrs := f.eventAddresses(e)
	if len(addrs) == 0 {
		return out, engine.ErrNotApplied
	}
	var nets []netip.Prefix
	switch {
	case f.path != "":
		nets = f.fileNetworks()
	case f.networks != nil:
		for _, t := range f.networks {
			nets = appendNetworks(nets, t.Render(e), f.logger)
		}
	default:
		nets = f.fixed
	}
	for _, a := range addrs {
		for _, n := range nets {
			if contains(n, a) {
				return out, nil
			}
		}
	}
	return out, engine.ErrNotApplied
}

func (f *Filter) eventAddresses(e *event.Event) []netip.Prefix {
	var out []netip.Prefix
	add := func(s string) {
		if p, ok := ParseIPAddr(s); ok {
			out = append(out, p)
		} else {
			f.logger.Debug("cidr: invalid IP address, skipping", "address", s)
		}
	}
	if f.useField {
		v, _ := e.Get(f.addressField)
		switch x := v.(type) {
		case string:
			add(x)
		case []any:
			for _, el := range x {
				if s, ok := el.(string); ok {
					add(s)
				}
			}
		}
		return out
	}
	for _, t := range f.addresses {
		add(t.Render(e))
	}
	return out
}

// contains is IPAddr#include?: a of the same family inside n (an address
// given as a network must be as narrow or narrower).
func contains(n, a netip.Prefix) bool {
	return n.Addr().Is4() == a.Addr().Is4() && n.Bits() <= a.Bits() && n.Contains(a.Addr())
}

// ParseIPAddr reads an address or network as Ruby's IPAddr.new does: "addr",
// "addr/len" or "addr/mask" (a contiguous mask), an IPv6 address optionally
// in brackets. The result is masked to its prefix.
func ParseIPAddr(s string) (netip.Prefix, bool) {
	addr, mask, hasMask := strings.Cut(s, "/")
	if strings.HasPrefix(addr, "[") && strings.HasSuffix(addr, "]") {
		addr = addr[1 : len(addr)-1]
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.WithZone("")
	bits := a.BitLen()
	if hasMask {
		if n, err := strconv.Atoi(mask); err == nil && mask != "" && mask[0] != '+' && mask[0] != '-' {
			bits = n
		} else if m, err := netip.ParseAddr(mask); err == nil && m.Is4() == a.Is4() {
			n, ok := maskBits(m)
			if !ok {
				return netip.Prefix{}, false
			}
			bits = n
		} else {
			return netip.Prefix{}, false
		}
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// maskBits is the prefix length of a contiguous mask.
func maskBits(m netip.Addr) (int, bool) {
	b := m.AsSlice()
	n := 0
	for i, x := range b {
		if x == 0xff {
			n += 8
			continue
		}
		ones := 0
		for x&0x80 != 0 {
			x <<= 1
			ones++
		}
		if x != 0 {
			return 0, false
		}
		n += ones
		for _, y := range b[i+1:] {
			if y != 0 {
				return 0, false
			}
		}
		return n, true
	}
	return n, true
}
