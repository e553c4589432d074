// Package geoip implements the geoip filter, like Logstash's: it looks an IP
// address up in a MaxMind database (GeoIP2 or GeoLite2 .mmdb files: City,
// Country, ASN, ISP, Domain, Enterprise, Anonymous-IP) and stores what it
// finds under target.
//
// No database is bundled or downloaded. database names one; without it the
// filter uses GeoLite2-City.mmdb or GeoLite2-ASN.mmdb (per
// default_database_type) in <path.data>/plugins/filters/geoip/, where
// Logstash keeps the databases it manages. When that file is not there
// either, the pipeline starts with a warning and every event is tagged
// _geoip_expired_database, as Logstash does while it has no usable database.
// The kind of database is read from its metadata, as Logstash does. The file
// is opened at start (memory-mapped); lookups are not cached, so cache_size
// is accepted and not used.
//
// The address is the source field's value, or the first element of a list.
// Hostnames are not resolved (Logstash would resolve them with DNS): a value
// that is not an IP address is like an address not found. An IPv4-mapped
// IPv6 address is looked up as IPv4, as Java does.
//
// Field names follow ecs_compatibility: disabled stores ip, city_name,
// country_code2, location {lat, lon}, … under target (by default "geoip");
// v1 and v8 store ip, geo.city_name, geo.country_iso_code, geo.location,
// as.number, … under target, which then defaults to the parent of a source
// ending in [ip] ([client][ip] gives [client]). fields chooses which values
// are stored (names as Logstash's: city_name, country_code2, location,
// autonomous_system_number, …); by default the database kind's defaults,
// as in Logstash (with region_code instead of region_iso_code for City when
// ECS is disabled). country_code3 holds the two-letter code, as in Logstash,
// and has no ECS name. ip is written as Java writes addresses (IPv6
// uncompressed: "2001:db8:0:0:0:0:0:1").
//
// A missing, null or blank source, or one that is neither a string nor a
// list of strings, tags the event tag_on_failure. An address that is not
// found, not an address, or (in a City database) found without a location
// sets target to an empty object when it is missing and tags the event, as in
// Logstash. The common options apply when something was stored.
//
// ecs_compatibility chooses the field names and the default target.
package geoip

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("geoip", New) }

// Options configures the geoip filter.
type Options struct {
	// Source is the field holding the IP address. Required.
	Source string `hcl:"source"`
	// Target is the field the data is stored under: by default "geoip", or
	// with ECS compatibility the parent of a source ending in [ip].
	Target string `hcl:"target,optional"`
	// Database is the MaxMind database file (.mmdb); by default
	// <path.data>/plugins/filters/geoip/GeoLite2-<default_database_type>.mmdb.
	Database string `hcl:"database,optional"`
	// DefaultDatabaseType is "City" or "ASN": the database used when
	// database is not set.
	DefaultDatabaseType string `hcl:"default_database_type,optional"`
	// Fields are the values to store (Logstash's names, any case); by
	// default the database kind's defaults.
	Fields []string `hcl:"fields,optional"`
	// CacheSize is accepted for compatibility; lookups are not cached.
	CacheSize int64 `hcl:"cache_size,optional"`
	// TagOnFailure are added when the lookup finds nothing.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.DefaultDatabaseType = "City"
	o.CacheSize = 1000
	o.TagOnFailure = []string{"_geoip_lookup_failure"}
	o.Compatibility.Defaults()
}

// Validate checks the options without opening the database.
func (o *Options) Validate() error {
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.DefaultDatabaseType != "City" && o.DefaultDatabaseType != "ASN" {
		return &engine.FieldError{Field: "default_database_type", Err: fmt.Errorf("%q: use City or ASN", o.DefaultDatabaseType)}
	}
	for _, f := range o.Fields {
		if _, ok := fieldByName(f); !ok {
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.name
			}
			// Logstash's GeoIPFilter refuses it when the pipeline starts
			// (in register), and logstash -t accepts it.
			return engine.AtStart(&engine.FieldError{Field: "fields", Err: fmt.Errorf("illegal field value %s: valid values are %s", f, strings.Join(names, ", "))})
		}
	}
	if o.CacheSize < 0 {
		return &engine.FieldError{Field: "cache_size", Err: fmt.Errorf("%d is negative", o.CacheSize)}
	}
	if o.Database != "" {
		// Logstash's :path validator checks this with the options, before
		// the target below, which only register checks.
		if _, err := os.Stat(o.Database); errors.Is(err, fs.ErrNotExist) {
			return &engine.FieldError{Field: "database", Err: err}
		}
	}
	if _, err := o.target(); err != nil {
		return err
	}
	return nil
}

// target is the target as written, defaulted as Logstash defaults it.
func (o *Options) target() (string, error) {
	if o.Target != "" {
		t := o.Target
		if !strings.HasPrefix(t, "[") {
			t = "[" + t + "]"
		}
		if _, err := event.ParseRef(t); err != nil {
			return "", &engine.FieldError{Field: "target", Err: err}
		}
		return t, nil
	}
	if !o.Compatibility.ECS() {
		return "[geoip]", nil
	}
	if strings.HasSuffix(o.Source, "[ip]") && len(o.Source) > 4 {
		return o.Source[:len(o.Source)-4], nil
	}
	// Logstash's geoip raises this in register (geoip.rb
	// #auto_target_from_source!, from #setup_target_field), at start.
	return "", engine.AtStart(&engine.FieldError{Field: "target", Err: errors.New("with ECS compatibility, target is required when source is not an ip sub-field such as [client][ip]")})
}

// Filter is the geoip filter. It is safe for concurrent use.
type Filter struct {
	source event.Ref
	target event.Ref
	refs   [numFields]event.Ref // under target; zero for a field not stored
	want   fieldSet
	size   int // how many keys the target gets at most
	kind   dbKind
	db     *maxminddb.Reader
	tags   []string
	logger *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New opens the database and builds a geoip filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	target, _ := o.target()
	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	path := o.Database
	if path == "" {
		dataDir := r.DataDir
		if dataDir == "" {
			dataDir = "data"
		}
		path = filepath.Join(dataDir, "plugins", "filters", "geoip", "GeoLite2-"+o.DefaultDatabaseType+".mmdb")
		if _, err := os.Stat(path); err != nil {
			logger.Warn("geoip: no database: set database, or place a MaxMind database at "+path+"; until then events are tagged "+ExpiredTag, "path", path)
			return &Filter{source: event.MustRef(o.Source), logger: logger}, nil
		}
	}
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, &engine.FieldError{Field: "database", Err: fmt.Errorf("the database is missing, invalid or corrupted: %w", err)}
	}
	f := &Filter{
		source: event.MustRef(o.Source),
		target: event.MustRef(target),
		kind:   kindOf(db.Metadata.DatabaseType),
		db:     db,
		tags:   slices.Clone(o.TagOnFailure),
		logger: logger,
	}
	if f.kind == dbUnknown {
		db.Close()
		return nil, &engine.FieldError{Field: "database", Err: fmt.Errorf("database type %q is not supported", db.Metadata.DatabaseType)}
	}
	ecsOn := o.Compatibility.ECS()
	if len(o.Fields) > 0 {
		for _, s := range o.Fields {
			i, _ := fieldByName(s)
			f.want[i] = true
		}
	} else {
		f.want = defaultFields(f.kind, ecsOn)
	}
	tops := map[string]bool{} // the target's keys
	for i, fd := range fields {
		name := fd.legacy
		if ecsOn {
			name = fd.ecs
		}
		if name == "" {
			f.want[i] = false
			continue
		}
		f.refs[i] = event.MustRef(target + "[" + strings.ReplaceAll(name, ".", "][") + "]")
		if f.want[i] {
			top, _, _ := strings.Cut(name, ".")
			tops[top] = true
		}
	}
	f.size = len(tops)
	return f, nil
}

// Close closes the database.
func (f *Filter) Close() error {
	if f.db == nil {
		return nil
	}
	return f.db.Close()
}

// ExpiredTag is added to every event while the filter has no database.
const ExpiredTag = "_geoip_expired_database"

var errNoDatabase = fmt.Errorf("geoip: no database: %w", engine.ErrNotApplied)

var errNotFound = errors.New("geoip: the address was not found")

// Filter looks up the source of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	if f.db == nil {
		e.AddTag(ExpiredTag)
		return out, errNoDatabase
	}
	v, _ := e.Get(f.source)
	if list, ok := v.([]any); ok {
		v = nil
		if len(list) > 0 {
			v = list[0]
		}
	}
	s, ok := v.(string)
	if !ok || strings.TrimSpace(s) == "" {
		e.AddTag(f.tags...)
		return out, fmt.Errorf("geoip: the source is %s, not an address", describe(v))
	}
	values := f.lookup(s)
	if cur, _ := e.Get(f.target); cur == nil {
		// Sized for the values, so that storing them does not grow it.
		if err := e.Set(f.target, make(map[string]any, f.size)); err != nil {
			e.AddTag(f.tags...)
			return out, fmt.Errorf("geoip: %w", err)
		}
	}
	stored := false
	for i := range values {
		if !values[i].set {
			continue
		}
		if err := e.Set(f.refs[i], values[i].v); err != nil {
			e.AddTag(f.tags...)
			return out, fmt.Errorf("geoip: %w", err)
		}
		stored = true
	}
	if !stored {
		e.AddTag(f.tags...)
		return out, errNotFound
	}
	return out, nil
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "missing"
	case string:
		return "blank"
	}
	return fmt.Sprintf("a %T", v)
}

// value is one looked-up value; set is false where there is none.
type value struct {
	v   any
	set bool
}

type names struct {
	En string `maxminddb:"en"`
}

// record holds what the filter reads from any kind of database.
type record struct {
	City struct {
		Names names `maxminddb:"names"`
	} `maxminddb:"city"`
	Continent struct {
		Code  string `maxminddb:"code"`
		Names names  `maxminddb:"names"`
	} `maxminddb:"continent"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"country"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
		MetroCode *uint64  `maxminddb:"metro_code"`
		TimeZone  string   `maxminddb:"time_zone"`
	} `maxminddb:"location"`
	Postal struct {
		Code string `maxminddb:"code"`
	} `maxminddb:"postal"`
	Subdivisions []struct {
		ISOCode string `maxminddb:"iso_code"`
		Names   names  `maxminddb:"names"`
	} `maxminddb:"subdivisions"`
	Traits struct {
		ASN   *uint64 `maxminddb:"autonomous_system_number"`
		ASOrg string  `maxminddb:"autonomous_system_organization"`
		anonymity
	} `maxminddb:"traits"`
	ASN          *uint64 `maxminddb:"autonomous_system_number"`
	ASOrg        string  `maxminddb:"autonomous_system_organization"`
	ISP          string  `maxminddb:"isp"`
	Organization string  `maxminddb:"organization"`
	Domain       *string `maxminddb:"domain"`
	anonymity
}

type anonymity struct {
	HostingProvider  bool `maxminddb:"is_hosting_provider"`
	TorExitNode      bool `maxminddb:"is_tor_exit_node"`
	AnonymousVPN     bool `maxminddb:"is_anonymous_vpn"`
	Anonymous        bool `maxminddb:"is_anonymous"`
	PublicProxy      bool `maxminddb:"is_public_proxy"`
	ResidentialProxy bool `maxminddb:"is_residential_proxy"`
}

// lookup returns the wanted values found for s, none when it is not an
// address or not found.
func (f *Filter) lookup(s string) (out [numFields]value) {
	addrText := s
	if strings.HasPrefix(addrText, "[") && strings.HasSuffix(addrText, "]") {
		addrText = addrText[1 : len(addrText)-1]
	}
	addr, err := netip.ParseAddr(addrText)
	if err != nil {
		return out
	}
	addr = addr.Unmap().WithZone("")
	res := f.db.Lookup(addr)
	if err := res.Err(); err != nil {
		f.logger.Error("geoip: error from the database", "value", s, "err", err)
		return out
	}
	if !res.Found() {
		return out
	}
	var rec record
	if err := res.Decode(&rec); err != nil {
		f.logger.Error("geoip: error from the database", "value", s, "err", err)
		return out
	}
	put := func(i int, v any) {
		if f.want[i] {
			out[i] = value{v, true}
		}
	}
	putString := func(i int, v string) {
		if v != "" {
			put(i, v)
		}
	}
	ip := javaHostAddress(addr)
	var sub struct {
		ISOCode string
		Name    string
	}
	if n := len(rec.Subdivisions); n > 0 {
		sub.ISOCode, sub.Name = rec.Subdivisions[n-1].ISOCode, rec.Subdivisions[n-1].Names.En
	}
	regionISO := ""
	if rec.Country.ISOCode != "" && sub.ISOCode != "" {
		regionISO = rec.Country.ISOCode + "-" + sub.ISOCode
	}
	loc := rec.Location
	location := func() {
		if loc.Latitude != nil && loc.Longitude != nil {
			put(fLocation, map[string]any{"lat": *loc.Latitude, "lon": *loc.Longitude})
		}
	}
	network := func() {
		p := res.Prefix()
		put(fNetwork, javaHostAddress(p.Addr())+"/"+strconv.Itoa(p.Bits()))
	}
	anon := func(a anonymity) {
		put(fHostingProvider, a.HostingProvider)
		put(fTorExitNode, a.TorExitNode)
		put(fAnonymousVPN, a.AnonymousVPN)
		put(fAnonymous, a.Anonymous)
		put(fPublicProxy, a.PublicProxy)
		put(fResidentialProxy, a.ResidentialProxy)
	}
	switch f.kind {
	case dbCity:
		if loc.Latitude == nil && loc.Longitude == nil {
			return out // Logstash stores nothing without a location
		}
		putString(fCityName, rec.City.Names.En)
		putString(fContinentCode, rec.Continent.Code)
		putString(fCountryName, rec.Country.Names.En)
		putString(fCountryCode2, rec.Country.ISOCode)
		putString(fCountryCode3, rec.Country.ISOCode)
		put(fIP, ip)
		putString(fPostalCode, rec.Postal.Code)
		if loc.MetroCode != nil {
			put(fDMACode, int64(*loc.MetroCode))
		}
		putString(fRegionName, sub.Name)
		putString(fRegionCode, sub.ISOCode)
		putString(fRegionISOCode, regionISO)
		putString(fTimezone, loc.TimeZone)
		location()
		if loc.Latitude != nil {
			put(fLatitude, *loc.Latitude)
		}
		if loc.Longitude != nil {
			put(fLongitude, *loc.Longitude)
		}
	case dbCountry:
		put(fIP, ip)
		putString(fCountryCode2, rec.Country.ISOCode)
		putString(fCountryName, rec.Country.Names.En)
		putString(fContinentName, rec.Continent.Names.En)
	case dbASN:
		put(fIP, ip)
		if rec.ASN != nil {
			put(fASN, int64(*rec.ASN))
		}
		putString(fASOrg, rec.ASOrg)
		network()
	case dbISP:
		put(fIP, ip)
		if rec.ASN != nil {
			put(fASN, int64(*rec.ASN))
		}
		putString(fASOrg, rec.ASOrg)
		putString(fISP, rec.ISP)
		putString(fOrganization, rec.Organization)
	case dbDomain:
		if rec.Domain != nil {
			put(fDomain, *rec.Domain)
		} else {
			put(fDomain, nil) // Logstash stores the null it got
		}
	case dbEnterprise:
		put(fIP, ip)
		putString(fCountryCode2, rec.Country.ISOCode)
		putString(fCountryName, rec.Country.Names.En)
		putString(fContinentName, rec.Continent.Names.En)
		putString(fRegionISOCode, regionISO)
		putString(fRegionName, sub.Name)
		putString(fCityName, rec.City.Names.En)
		putString(fTimezone, loc.TimeZone)
		location()
		if rec.Traits.ASN != nil {
			put(fASN, int64(*rec.Traits.ASN))
		}
		putString(fASOrg, rec.Traits.ASOrg)
		network()
		anon(rec.Traits.anonymity)
	case dbAnonymousIP:
		put(fIP, ip)
		anon(rec.anonymity)
	}
	return out
}

// javaHostAddress is Java's InetAddress.getHostAddress: dotted IPv4, and
// IPv6 as eight hexadecimal groups without "::" compression.
func javaHostAddress(a netip.Addr) string {
	if a.Is4() {
		return a.String()
	}
	b := a.As16()
	var sb strings.Builder
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(strconv.FormatUint(uint64(b[i])<<8|uint64(b[i+1]), 16))
	}
	return sb.String()
}
