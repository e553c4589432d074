package geoip

import "strings"

// field is one value the filter can store, named as Logstash's Field enum
// (lower case in fields): its place under target with ECS compatibility
// (ecs, empty when it has none) and without (legacy).
type field struct {
	name, ecs, legacy string
}

// The fields in Logstash's order, which is the order they are stored in.
const (
	fASN = iota
	fASOrg
	fCityName
	fCountryName
	fContinentCode
	fContinentName
	fCountryCode2
	fCountryCode3
	fDomain
	fIP
	fISP
	fPostalCode
	fDMACode
	fRegionName
	fRegionCode
	fRegionISOCode
	fTimezone
	fLocation
	fLatitude
	fLongitude
	fOrganization
	fNetwork
	fHostingProvider
	fTorExitNode
	fAnonymousVPN
	fAnonymous
	fPublicProxy
	fResidentialProxy
	numFields
)

var fields = [numFields]field{
	fASN:              {"autonomous_system_number", "as.number", "asn"},
	fASOrg:            {"autonomous_system_organization", "as.organization.name", "as_org"},
	fCityName:         {"city_name", "geo.city_name", "city_name"},
	fCountryName:      {"country_name", "geo.country_name", "country_name"},
	fContinentCode:    {"continent_code", "geo.continent_code", "continent_code"},
	fContinentName:    {"continent_name", "geo.continent_name", "continent_name"},
	fCountryCode2:     {"country_code2", "geo.country_iso_code", "country_code2"},
	fCountryCode3:     {"country_code3", "", "country_code3"}, // no ECS name: skipped with ECS
	fDomain:           {"domain", "domain", "domain"},
	fIP:               {"ip", "ip", "ip"},
	fISP:              {"isp", "mmdb.isp", "isp"},
	fPostalCode:       {"postal_code", "geo.postal_code", "postal_code"},
	fDMACode:          {"dma_code", "mmdb.dma_code", "dma_code"},
	fRegionName:       {"region_name", "geo.region_name", "region_name"},
	fRegionCode:       {"region_code", "geo.region_code", "region_code"},
	fRegionISOCode:    {"region_iso_code", "geo.region_iso_code", "region_iso_code"},
	fTimezone:         {"timezone", "geo.timezone", "timezone"},
	fLocation:         {"location", "geo.location", "location"},
	fLatitude:         {"latitude", "geo.location.lat", "latitude"},
	fLongitude:        {"longitude", "geo.location.lon", "longitude"},
	fOrganization:     {"organization", "mmdb.organization", "organization"},
	fNetwork:          {"network", "ip_traits.network", "network"},
	fHostingProvider:  {"hosting_provider", "ip_traits.hosting_provider", "hosting_provider"},
	fTorExitNode:      {"tor_exit_node", "ip_traits.tor_exit_node", "tor_exit_node"},
	fAnonymousVPN:     {"anonymous_vpn", "ip_traits.anonymous_vpn", "anonymous_vpn"},
	fAnonymous:        {"anonymous", "ip_traits.anonymous", "anonymous"},
	fPublicProxy:      {"public_proxy", "ip_traits.public_proxy", "public_proxy"},
	fResidentialProxy: {"residential_proxy", "ip_traits.residential_proxy", "residential_proxy"},
}

// fieldByName finds a field by its name in any case, as Logstash's
// Field.parseField does.
func fieldByName(s string) (int, bool) {
	for i, f := range fields {
		if strings.EqualFold(f.name, s) {
			return i, true
		}
	}
	return 0, false
}

// fieldSet is a set of fields.
type fieldSet [numFields]bool

func setOf(ids ...int) fieldSet {
	var s fieldSet
	for _, i := range ids {
		s[i] = true
	}
	return s
}

// dbKind is the kind of database, from its metadata's database_type as
// Logstash's Database.fromDatabaseType reads it.
type dbKind int

const (
	dbUnknown dbKind = iota
	dbCity
	dbCountry
	dbDomain
	dbASN
	dbISP
	dbEnterprise
	dbAnonymousIP
)

func kindOf(databaseType string) dbKind {
	for _, k := range []struct {
		sub  string
		kind dbKind
	}{
		{"City", dbCity}, {"Country", dbCountry}, {"GeoIP2-Domain", dbDomain}, {"GeoLite2-ASN", dbASN},
		{"GeoIP2-ISP", dbISP}, {"Enterprise", dbEnterprise}, {"GeoIP2-Anonymous-IP", dbAnonymousIP},
	} {
		if strings.Contains(databaseType, k.sub) {
			return k.kind
		}
	}
	return dbUnknown
}

// defaultFields are the fields stored when fields is not set.
func defaultFields(k dbKind, ecsEnabled bool) fieldSet {
	switch k {
	case dbCity:
		s := setOf(fIP, fCityName, fContinentCode, fCountryName, fCountryCode2, fCountryCode3, fPostalCode,
			fDMACode, fRegionName, fRegionISOCode, fTimezone, fLocation, fLatitude, fLongitude)
		if !ecsEnabled {
			s[fRegionISOCode], s[fRegionCode] = false, true
		}
		return s
	case dbCountry:
		return setOf(fIP, fCountryCode2, fCountryName, fContinentName)
	case dbDomain:
		return setOf(fDomain)
	case dbASN:
		return setOf(fIP, fASN, fASOrg)
	case dbISP:
		return setOf(fIP, fASN, fASOrg, fISP, fOrganization)
	case dbAnonymousIP:
		return setOf(fHostingProvider, fTorExitNode, fAnonymousVPN, fAnonymous, fPublicProxy, fResidentialProxy)
	case dbEnterprise:
		return setOf(fIP, fCountryCode2, fCountryName, fContinentName, fRegionISOCode, fRegionName, fCityName, fLocation)
	}
	return fieldSet{}
}
