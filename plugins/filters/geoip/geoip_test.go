package geoip_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/geoip"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestMain writes the test databases (MaxMind DB files made here with
// mmdbwriter, so no database is shipped or fetched) into a temporary
// directory named by GEOIP_TESTDATA, which the golden options use as
// database = "${GEOIP_TESTDATA}/city.mmdb".
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "geoip-test")
	if err != nil {
		panic(err)
	}
	if err := writeDatabases(dir); err != nil {
		panic(err)
	}
	os.Setenv("GEOIP_TESTDATA", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestGolden(t *testing.T) { plugintest.RunFilterGolden(t, "geoip") }

func names(en string) mmdbtype.Map {
	return mmdbtype.Map{"en": mmdbtype.String(en), "de": mmdbtype.String("de:" + en)}
}

type entry struct {
	network string
	data    mmdbtype.Map
}

var databases = map[string]struct {
	typ     string
	entries []entry
}{
	"city.mmdb": {"GeoIP2-City", []entry{
		{"81.2.69.0/24", mmdbtype.Map{
			"city":         mmdbtype.Map{"names": names("London")},
			"continent":    mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")},
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": names("United Kingdom")},
			"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931), "time_zone": mmdbtype.String("Europe/London")},
			"postal":       mmdbtype.Map{"code": mmdbtype.String("EC2V")},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG"), "names": names("England")}},
		}},
		{"216.160.83.56/29", mmdbtype.Map{
			"city":      mmdbtype.Map{"names": names("Milton")},
			"continent": mmdbtype.Map{"code": mmdbtype.String("NA"), "names": names("North America")},
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("US"), "names": names("United States")},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(47.2513), "longitude": mmdbtype.Float64(-122.3149), "metro_code": mmdbtype.Uint16(819), "time_zone": mmdbtype.String("America/Los_Angeles")},
			"postal":    mmdbtype.Map{"code": mmdbtype.String("98354")},
			"subdivisions": mmdbtype.Slice{
				mmdbtype.Map{"iso_code": mmdbtype.String("X1"), "names": names("Outer")},
				mmdbtype.Map{"iso_code": mmdbtype.String("WA"), "names": names("Washington")},
			},
		}},
		{"2001:480::/32", mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("NA"), "names": names("North America")},
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("US"), "names": names("United States")},
			"location":  mmdbtype.Map{"latitude": mmdbtype.Float64(37.751), "longitude": mmdbtype.Float64(-97.822)},
		}},
		// Found, but without a location: Logstash stores nothing.
		{"89.160.20.112/28", mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String("SE"), "names": names("Sweden")},
		}},
	}},
	"country.mmdb": {"GeoLite2-Country", []entry{
		{"81.2.69.0/24", mmdbtype.Map{
			"continent": mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")},
			"country":   mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": names("United Kingdom")},
		}},
	}},
	"asn.mmdb": {"GeoLite2-ASN", []entry{
		{"1.128.0.0/11", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(1221), "autonomous_system_organization": mmdbtype.String("Telstra Pty Ltd")}},
		{"2600:6000::/20", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(237), "autonomous_system_organization": mmdbtype.String("Merit Network Inc.")}},
	}},
	"isp.mmdb": {"GeoIP2-ISP", []entry{
		{"1.128.0.0/11", mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(1221), "autonomous_system_organization": mmdbtype.String("Telstra Pty Ltd"), "isp": mmdbtype.String("Telstra Internet"), "organization": mmdbtype.String("Telstra Internet")}},
	}},
	"anonymous.mmdb": {"GeoIP2-Anonymous-IP", []entry{
		{"1.2.0.0/16", mmdbtype.Map{"is_anonymous": mmdbtype.Bool(true), "is_anonymous_vpn": mmdbtype.Bool(true)}},
	}},
	"domain.mmdb": {"GeoIP2-Domain", []entry{
		{"1.2.0.0/16", mmdbtype.Map{"domain": mmdbtype.String("maxmind.com")}},
	}},
	"enterprise.mmdb": {"GeoIP2-Enterprise", []entry{
		{"81.2.69.0/24", mmdbtype.Map{
			"city":         mmdbtype.Map{"names": names("London")},
			"continent":    mmdbtype.Map{"code": mmdbtype.String("EU"), "names": names("Europe")},
			"country":      mmdbtype.Map{"iso_code": mmdbtype.String("GB"), "names": names("United Kingdom")},
			"location":     mmdbtype.Map{"latitude": mmdbtype.Float64(51.5142), "longitude": mmdbtype.Float64(-0.0931), "time_zone": mmdbtype.String("Europe/London")},
			"subdivisions": mmdbtype.Slice{mmdbtype.Map{"iso_code": mmdbtype.String("ENG"), "names": names("England")}},
			"traits":       mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(20712), "autonomous_system_organization": mmdbtype.String("Andrews & Arnold Ltd"), "is_hosting_provider": mmdbtype.Bool(true)},
		}},
	}},
	"unknown.mmdb": {"Some-Other-DB", []entry{
		{"1.2.0.0/16", mmdbtype.Map{"x": mmdbtype.String("y")}},
	}},
}

func writeDatabases(dir string) error {
	for name, db := range databases {
		tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: db.typ, RecordSize: 28, Languages: []string{"en", "de"}})
		if err != nil {
			return err
		}
		for _, e := range db.entries {
			_, n, err := net.ParseCIDR(e.network)
			if err != nil {
				return err
			}
			if err := tree.Insert(n, e.data); err != nil {
				return err
			}
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if _, err := tree.WriteTo(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "corrupt.mmdb"), []byte("not a database"), 0o644)
}

// Without database, the filter uses the database of default_database_type
// in <path.data>/plugins/filters/geoip/, where Logstash keeps its own.
func TestDefaultDatabaseInDataDir(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "plugins", "filters", "geoip")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(os.Getenv("GEOIP_TESTDATA"), "asn.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "GeoLite2-ASN.mmdb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	f := plugintest.MustNew(t, geoip.New, `source = "ip"
default_database_type = "ASN"
ecs_compatibility = "disabled"`, engine.Resources{DataDir: dataDir})
	defer f.Close()
	e := event.New()
	_ = e.Set(event.MustRef("ip"), "1.128.0.1")
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get(event.MustRef("[geoip][asn]")); v != int64(1221) {
		t.Fatalf("[geoip][asn] = %v, want 1221", v)
	}
}
