package cef

import "fmt"

// field is one CEF extension field: its full name, its short key (when CEF
// defines one), its ECS field, a legacy full name, and whether ECS mode
// reads it as a timestamp. The table is Logstash's (ArcSight's CEF
// dictionary with Logstash's ECS mapping).
type field struct {
	name, key, ecs, legacy string
	priority               int
	timestamp              bool
}

func f(name, key, ecs string) field { return field{name: name, key: key, ecs: ecs} }

// fields returns the table for device "observer" or "host".
func fields(device string) []field {
	deviceExternalID, deviceHostName := "[observer][name]", "[observer][hostname]"
	if device == "host" {
		deviceExternalID, deviceHostName = "[host][id]", "[host][name]"
	}
	ts := func(x field) field { x.timestamp = true; return x }
	prio := func(x field) field { x.priority = 10; return x }
	legacy := func(x field, l string) field { x.legacy = l; return x }
	out := []field{
		f("agentAddress", "agt", "[agent][ip]"),
		prio(f("agentDnsDomain", "", "[cef][agent][registered_domain]")),
		f("agentHostName", "ahost", "[agent][name]"),
		f("agentId", "aid", "[agent][id]"),
		f("agentMacAddress", "amac", "[agent][mac]"),
		f("agentNtDomain", "", "[cef][agent][registered_domain]"),
		ts(f("agentReceiptTime", "art", "[event][created]")),
		f("agentTimeZone", "atz", "[cef][agent][timezone]"),
		f("agentTranslatedAddress", "", "[cef][agent][nat][ip]"),
		f("agentTranslatedZoneExternalID", "", "[cef][agent][translated_zone][external_id]"),
		f("agentTranslatedZoneURI", "", "[cef][agent][translated_zone][uri]"),
		f("agentType", "at", "[agent][type]"),
		f("agentVersion", "av", "[agent][version]"),
		f("agentZoneExternalID", "", "[cef][agent][zone][external_id]"),
		f("agentZoneURI", "", "[cef][agent][zone][uri]"),
		f("applicationProtocol", "app", "[network][protocol]"),
		f("baseEventCount", "cnt", "[cef][base_event_count]"),
		f("bytesIn", "in", "[source][bytes]"),
		f("bytesOut", "out", "[destination][bytes]"),
		f("categoryDeviceType", "catdt", "[cef][device_type]"),
		f("customerExternalID", "", "[organization][id]"),
		f("customerURI", "", "[organization][name]"),
		f("destinationAddress", "dst", "[destination][ip]"),
		prio(f("destinationDnsDomain", "", "[destination][registered_domain]")),
		legacy(f("destinationGeoLatitude", "dlat", "[destination][geo][location][lat]"), "destinationLatitude"),
		legacy(f("destinationGeoLongitude", "dlong", "[destination][geo][location][lon]"), "destinationLongitude"),
		f("destinationHostName", "dhost", "[destination][domain]"),
		f("destinationMacAddress", "dmac", "[destination][mac]"),
		f("destinationNtDomain", "dntdom", "[destination][registered_domain]"),
		f("destinationPort", "dpt", "[destination][port]"),
		f("destinationProcessId", "dpid", "[destination][process][pid]"),
		f("destinationProcessName", "dproc", "[destination][process][name]"),
		f("destinationServiceName", "", "[destination][service][name]"),
		f("destinationTranslatedAddress", "", "[destination][nat][ip]"),
		f("destinationTranslatedPort", "", "[destination][nat][port]"),
		f("destinationTranslatedZoneExternalID", "", "[cef][destination][translated_zone][external_id]"),
		f("destinationTranslatedZoneURI", "", "[cef][destination][translated_zone][uri]"),
		f("destinationUserId", "duid", "[destination][user][id]"),
		f("destinationUserName", "duser", "[destination][user][name]"),
		f("destinationUserPrivileges", "dpriv", "[destination][user][group][name]"),
		f("destinationZoneExternalID", "", "[cef][destination][zone][external_id]"),
		f("destinationZoneURI", "", "[cef][destination][zone][uri]"),
		f("deviceAction", "act", "[event][action]"),
		f("deviceAddress", "dvc", "["+device+"][ip]"),
	}
	for i := 1; i <= 15; i++ {
		for _, c := range []struct{ name, key, ecs string }{
			{"deviceCustomFloatingPoint", "cfp", "device_custom_floating_point"},
			{"deviceCustomIPv6Address", "c6a", "device_custom_ipv6_address"},
			{"deviceCustomNumber", "cn", "device_custom_number"},
			{"deviceCustomString", "cs", "device_custom_string"},
		} {
			out = append(out,
				f(fmt.Sprintf("%s%d", c.name, i), fmt.Sprintf("%s%d", c.key, i), fmt.Sprintf("[cef][%s_%d][value]", c.ecs, i)),
				f(fmt.Sprintf("%s%dLabel", c.name, i), fmt.Sprintf("%s%dLabel", c.key, i), fmt.Sprintf("[cef][%s_%d][label]", c.ecs, i)))
		}
	}
	out = append(out,
		f("deviceDirection", "", "[network][direction]"),
		prio(f("deviceDnsDomain", "", "["+device+"][registered_domain]")),
		f("deviceEventCategory", "cat", "[cef][category]"),
		f("deviceExternalId", "", deviceExternalID),
		f("deviceFacility", "", "[log][syslog][facility][code]"),
		f("deviceHostName", "dvchost", deviceHostName),
		f("deviceInboundInterface", "", "[observer][ingress][interface][name]"),
		f("deviceMacAddress", "dvcmac", "["+device+"][mac]"),
		f("deviceNtDomain", "", "[cef][nt_domain]"),
		f("deviceOutboundInterface", "", "[observer][egress][interface][name]"),
		f("devicePayloadId", "", "[cef][payload_id]"),
		f("deviceProcessId", "dvcpid", "[process][pid]"),
		f("deviceProcessName", "", "[process][name]"),
		ts(f("deviceReceiptTime", "rt", "@timestamp")),
		legacy(f("deviceTimeZone", "dtz", "[event][timezone]"), "destinationTimeZone"),
		f("deviceTranslatedAddress", "", "[host][nat][ip]"),
		f("deviceTranslatedZoneExternalID", "", "[cef][translated_zone][external_id]"),
		f("deviceTranslatedZoneURI", "", "[cef][translated_zone][uri]"),
		f("deviceVersion", "", "[observer][version]"),
		f("deviceZoneExternalID", "", "[cef][zone][external_id]"),
		f("deviceZoneURI", "", "[cef][zone][uri]"),
		ts(f("endTime", "end", "[event][end]")),
		f("eventId", "", "[event][id]"),
		f("eventOutcome", "outcome", "[event][outcome]"),
		f("externalId", "", "[cef][external_id]"),
		f("fileCreateTime", "", "[file][created]"),
		f("fileHash", "", "[file][hash]"),
		f("fileId", "", "[file][inode]"),
		ts(f("fileModificationTime", "", "[file][mtime]")),
		f("fileName", "fname", "[file][name]"),
		f("filePath", "", "[file][path]"),
		f("filePermission", "", "[file][group]"),
		f("fileSize", "fsize", "[file][size]"),
		f("fileType", "", "[file][extension]"),
		ts(f("managerReceiptTime", "mrt", "[event][ingested]")),
		f("message", "msg", "[message]"),
		ts(f("oldFileCreateTime", "", "[cef][old_file][created]")),
		f("oldFileHash", "", "[cef][old_file][hash]"),
		f("oldFileId", "", "[cef][old_file][inode]"),
		ts(f("oldFileModificationTime", "", "[cef][old_file][mtime]")),
		f("oldFileName", "", "[cef][old_file][name]"),
		f("oldFilePath", "", "[cef][old_file][path]"),
		f("oldFilePermission", "", "[cef][old_file][group]"),
		f("oldFileSize", "", "[cef][old_file][size]"),
		f("oldFileType", "", "[cef][old_file][extension]"),
		f("rawEvent", "", "[event][original]"),
		f("Reason", "reason", "[event][reason]"),
		f("requestClientApplication", "", "[user_agent][original]"),
		f("requestContext", "", "[http][request][referrer]"),
		f("requestCookies", "", "[cef][request][cookies]"),
		f("requestMethod", "", "[http][request][method]"),
		f("requestUrl", "request", "[url][original]"),
		f("sourceAddress", "src", "[source][ip]"),
		prio(f("sourceDnsDomain", "", "[source][registered_domain]")),
		legacy(f("sourceGeoLatitude", "slat", "[source][geo][location][lat]"), "sourceLatitude"),
		legacy(f("sourceGeoLongitude", "slong", "[source][geo][location][lon]"), "sourceLongitude"),
		f("sourceHostName", "shost", "[source][domain]"),
		f("sourceMacAddress", "smac", "[source][mac]"),
		f("sourceNtDomain", "sntdom", "[source][registered_domain]"),
		f("sourcePort", "spt", "[source][port]"),
		f("sourceProcessId", "spid", "[source][process][pid]"),
		f("sourceProcessName", "sproc", "[source][process][name]"),
		f("sourceServiceName", "", "[source][service][name]"),
		f("sourceTranslatedAddress", "", "[source][nat][ip]"),
		f("sourceTranslatedPort", "", "[source][nat][port]"),
		f("sourceTranslatedZoneExternalID", "", "[cef][source][translated_zone][external_id]"),
		f("sourceTranslatedZoneURI", "", "[cef][source][translated_zone][uri]"),
		f("sourceUserId", "suid", "[source][user][id]"),
		f("sourceUserName", "suser", "[source][user][name]"),
		f("sourceUserPrivileges", "spriv", "[source][user][group][name]"),
		f("sourceZoneExternalID", "", "[cef][source][zone][external_id]"),
		f("sourceZoneURI", "", "[cef][source][zone][uri]"),
		ts(f("startTime", "start", "[event][start]")),
		f("transportProtocol", "proto", "[network][transport]"),
		f("type", "", "[cef][type]"),
	)
	for i := range out {
		if out[i].key == "" {
			out[i].key = out[i].name
		}
	}
	return out
}

// mappings builds the decode mapping (key, name or legacy name → event
// field), the encode mapping (event field or name → extension key) and the
// timestamp fields, as Logstash's generate_mappings!.
func mappings(device string, ecsOn, reverse bool) (decode, encode map[string]string, timestamps map[string]bool) {
	decode, encode, timestamps = map[string]string{}, map[string]string{}, map[string]bool{}
	all := fields(device)
	for _, pass := range []int{0, 10} { // priority 10 last: it wins a shared ECS field
		for _, c := range all {
			if c.priority != pass {
				continue
			}
			name := c.name
			if ecsOn {
				name = c.ecs
			}
			decode[c.key] = name
			decode[c.name] = name
			target := c.name
			if reverse {
				target = c.key
			}
			encode[name] = target
			if c.name != name {
				encode[c.name] = target
			}
			if c.legacy != "" {
				if ecsOn {
					decode[c.legacy] = c.ecs
				} else {
					decode[c.legacy] = c.legacy
				}
				if reverse {
					encode[c.legacy] = c.key
				} else {
					encode[c.legacy] = c.legacy
				}
			}
			if ecsOn && c.timestamp {
				timestamps[name] = true
			}
		}
	}
	return decode, encode, timestamps
}
