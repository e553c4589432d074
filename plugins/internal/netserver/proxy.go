package netserver

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ProxyHeader is a PROXY protocol v1 header: the client's and the proxy's
// addresses as the proxy saw them. Unknown is set for "PROXY UNKNOWN".
type ProxyHeader struct {
	Source, Dest netip.AddrPort
	Unknown      bool
}

// ReadProxyV1 reads a PROXY protocol v1 header line (at most 107 bytes, as
// the specification says) from br.
func ReadProxyV1(br *bufio.Reader) (ProxyHeader, error) {
	var h ProxyHeader
	peek, _ := br.Peek(min(107, max(br.Buffered(), 6)))
	i := bytes.IndexByte(peek, '\n')
	if i < 0 {
		// Not all of it arrived yet: read on, within the limit.
		for n := len(peek); i < 0 && n < 107; n++ {
			p, err := br.Peek(n + 1)
			if err != nil {
				return h, fmt.Errorf("proxy protocol: %w", err)
			}
			peek = p
			if p[n] == '\n' {
				i = n
			}
		}
		if i < 0 {
			return h, fmt.Errorf("proxy protocol: no header line within 107 bytes")
		}
	}
	line := strings.TrimRight(string(peek[:i]), "\r")
	_, _ = br.Discard(i + 1)
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "PROXY" {
		return h, fmt.Errorf("proxy protocol: invalid header %q", line)
	}
	if f[1] == "UNKNOWN" {
		h.Unknown = true
		return h, nil
	}
	if len(f) != 6 || f[1] != "TCP4" && f[1] != "TCP6" {
		return h, fmt.Errorf("proxy protocol: invalid header %q", line)
	}
	parse := func(ip, port string) (netip.AddrPort, error) {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return netip.AddrPort{}, err
		}
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return netip.AddrPort{}, err
		}
		return netip.AddrPortFrom(a.Unmap(), uint16(p)), nil
	}
	var err error
	if h.Source, err = parse(f[2], f[4]); err != nil {
		return h, fmt.Errorf("proxy protocol: invalid header %q: %w", line, err)
	}
	if h.Dest, err = parse(f[3], f[5]); err != nil {
		return h, fmt.Errorf("proxy protocol: invalid header %q: %w", line, err)
	}
	return h, nil
}
