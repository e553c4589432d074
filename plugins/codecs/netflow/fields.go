package netflow

import (
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// kind is how a field's bytes become a value.
type kind uint8

const (
	kSkip      kind = iota // read and dropped
	kUint                  // big-endian unsigned integer of the template's length
	kInt                   // big-endian signed integer
	kIP4                   // dotted IPv4 address
	kIP6                   // IPv6 address, compressed
	kMAC                   // aa:bb:cc:dd:ee:ff
	kString                // text, trailing NULs trimmed
	kOctets                // lowercase hex
	kFloat                 // IEEE 754, 4 or 8 bytes
	kACLASA                // Cisco ASA ACL id: three 4-byte groups in hex
	kFwdStatus             // forwarding status: {status, reason}
	kAppID                 // RFC 6759 application id: "engine..selector"
	kMPLS                  // one MPLS label stack entry: {label, experimental, bottom_of_stack, ttl}
)

// def is a field definition: how to read a field type and its name.
type def struct {
	k    kind
	name string
}

// kindNames are the type names a definitions file may use, as Logstash's
// YAML writes them (with or without the leading ':').
var kindNames = map[string]kind{
	"skip": kSkip, "uint8": kUint, "uint16": kUint, "uint24": kUint, "uint32": kUint, "uint64": kUint,
	"int8": kInt, "int16": kInt, "int32": kInt, "int64": kInt,
	"ip4_addr": kIP4, "ip6_addr": kIP6, "mac_addr": kMAC, "string": kString, "octetarray": kOctets,
	"double": kFloat, "float": kFloat, "acl_id_asa": kACLASA, "forwarding_status": kFwdStatus,
	"application_id": kAppID, "mpls_label_stack_octets": kMPLS,
}

// v9Defs are the NetFlow v9 field types this codec names, with Logstash's
// names (Cisco's NetFlow v9 names for the types below 128 and the vendor
// ones, IANA's for the others). Types 128 and up that are not here take
// their IPFIX name.
var v9Defs = map[uint16]def{
	0: {kSkip, ""}, 1: {kUint, "in_bytes"}, 2: {kUint, "in_pkts"}, 3: {kUint, "flows"},
	4: {kUint, "protocol"}, 5: {kUint, "src_tos"}, 6: {kUint, "tcp_flags"}, 7: {kUint, "l4_src_port"},
	8: {kIP4, "ipv4_src_addr"}, 9: {kUint, "src_mask"}, 10: {kUint, "input_snmp"}, 11: {kUint, "l4_dst_port"},
	12: {kIP4, "ipv4_dst_addr"}, 13: {kUint, "dst_mask"}, 14: {kUint, "output_snmp"}, 15: {kIP4, "ipv4_next_hop"},
	16: {kUint, "src_as"}, 17: {kUint, "dst_as"}, 18: {kIP4, "bgp_ipv4_next_hop"}, 19: {kUint, "mul_dst_pkts"},
	20: {kUint, "mul_dst_bytes"}, 21: {kUint, "last_switched"}, 22: {kUint, "first_switched"},
	23: {kUint, "out_bytes"}, 24: {kUint, "out_pkts"}, 25: {kUint, "min_pkt_length"}, 26: {kUint, "max_pkt_length"},
	27: {kIP6, "ipv6_src_addr"}, 28: {kIP6, "ipv6_dst_addr"}, 29: {kUint, "ipv6_src_mask"}, 30: {kUint, "ipv6_dst_mask"},
	31: {kUint, "ipv6_flow_label"}, 32: {kUint, "icmp_type"}, 33: {kUint, "mul_igmp_type"},
	34: {kUint, "sampling_interval"}, 35: {kUint, "sampling_algorithm"}, 36: {kUint, "flow_active_timeout"},
	37: {kUint, "flow_inactive_timeout"}, 38: {kUint, "engine_type"}, 39: {kUint, "engine_id"},
	40: {kUint, "total_bytes_exp"}, 41: {kUint, "total_pkts_exp"}, 42: {kUint, "total_flows_exp"}, 43: {kSkip, ""},
	44: {kIP4, "ipv4_src_prefix"}, 45: {kIP4, "ipv4_dst_prefix"}, 46: {kUint, "mpls_top_label_type"},
	47: {kUint, "mpls_top_label_ip_addr"}, 48: {kUint, "flow_sampler_id"}, 49: {kUint, "flow_sampler_mode"},
	50: {kUint, "flow_sampler_random_interval"}, 51: {kSkip, ""}, 52: {kUint, "min_ttl"}, 53: {kUint, "max_ttl"},
	54: {kUint, "ipv4_ident"}, 55: {kUint, "dst_tos"}, 56: {kMAC, "in_src_mac"}, 57: {kMAC, "out_dst_mac"},
	58: {kUint, "src_vlan"}, 59: {kUint, "dst_vlan"}, 60: {kUint, "ip_protocol_version"}, 61: {kUint, "direction"},
	62: {kIP6, "ipv6_next_hop"}, 63: {kIP6, "bgp_ipv6_next_hop"}, 64: {kUint, "ipv6_option_headers"},
	65: {kSkip, ""}, 66: {kSkip, ""}, 67: {kSkip, ""}, 68: {kSkip, ""}, 69: {kSkip, ""},
	70: {kMPLS, "mpls_label_1"}, 71: {kMPLS, "mpls_label_2"}, 72: {kMPLS, "mpls_label_3"}, 73: {kMPLS, "mpls_label_4"},
	74: {kMPLS, "mpls_label_5"}, 75: {kMPLS, "mpls_label_6"}, 76: {kMPLS, "mpls_label_7"}, 77: {kMPLS, "mpls_label_8"},
	78: {kMPLS, "mpls_label_9"}, 79: {kMPLS, "mpls_label_10"},
	80: {kMAC, "in_dst_mac"}, 81: {kMAC, "out_src_mac"}, 82: {kString, "if_name"}, 83: {kString, "if_desc"},
	84: {kString, "sampler_name"}, 85: {kUint, "in_permanent_bytes"}, 86: {kUint, "in_permanent_pkts"},
	89: {kFwdStatus, "forwarding_status"}, 92: {kUint, "src_traffic_index"}, 93: {kUint, "dst_traffic_index"},
	94: {kString, "application_description"}, 95: {kAppID, "application_id"}, 96: {kString, "application_name"},
	136: {kUint, "flow_end_reason"}, 148: {kUint, "conn_id"}, 152: {kUint, "flow_start_msec"}, 153: {kUint, "flow_end_msec"},
	176: {kUint, "icmp_type"}, 177: {kUint, "icmp_code"}, 178: {kUint, "icmp_type_ipv6"}, 179: {kUint, "icmp_code_ipv6"},
	180: {kUint, "udp_src_port"}, 181: {kUint, "udp_dst_port"}, 182: {kUint, "tcp_src_port"}, 183: {kUint, "tcp_dst_port"},
	194: {kUint, "ip_tos"}, 195: {kUint, "ip_dscp"}, 201: {kMPLS, "mpls_label_stack_octets"},
	225: {kIP4, "xlate_src_addr_ipv4"}, 226: {kIP4, "xlate_dst_addr_ipv4"}, 227: {kUint, "xlate_src_port"},
	228: {kUint, "xlate_dst_port"}, 231: {kUint, "fwd_flow_delta_bytes"}, 232: {kUint, "rev_flow_delta_bytes"},
	233: {kUint, "fw_event"}, 236: {kString, "VRFname"}, 281: {kIP6, "xlate_src_addr_ipv6"}, 282: {kIP6, "xlate_dst_addr_ipv6"},
	295: {kUint, "IPSecSPI"}, 323: {kUint, "event_time_msec"},
	33000: {kACLASA, "ingress_acl_id"}, 33001: {kACLASA, "egress_acl_id"}, 33002: {kUint, "fw_ext_event"},
	40000: {kString, "username"}, 40001: {kIP4, "xlate_src_addr_ipv4"}, 40002: {kIP4, "xlate_dst_addr_ipv4"},
	40003: {kUint, "xlate_src_port"}, 40004: {kUint, "xlate_dst_port"}, 40005: {kUint, "fw_event"},
	56701: {kString, "app_id"}, 56702: {kString, "user_id"}, 57590: {kUint, "nprobe_proto"}, 57591: {kString, "nprobe_proto_name"},
}

// ipfixDefs are the IANA information elements (enterprise 0) this codec
// names, under their IANA names.
var ipfixDefs = map[uint16]def{
	0: {kSkip, ""}, 1: {kUint, "octetDeltaCount"}, 2: {kUint, "packetDeltaCount"}, 3: {kUint, "deltaFlowCount"},
	4: {kUint, "protocolIdentifier"}, 5: {kUint, "ipClassOfService"}, 6: {kUint, "tcpControlBits"},
	7: {kUint, "sourceTransportPort"}, 8: {kIP4, "sourceIPv4Address"}, 9: {kUint, "sourceIPv4PrefixLength"},
	10: {kUint, "ingressInterface"}, 11: {kUint, "destinationTransportPort"}, 12: {kIP4, "destinationIPv4Address"},
	13: {kUint, "destinationIPv4PrefixLength"}, 14: {kUint, "egressInterface"}, 15: {kIP4, "ipNextHopIPv4Address"},
	16: {kUint, "bgpSourceAsNumber"}, 17: {kUint, "bgpDestinationAsNumber"}, 18: {kIP4, "bgpNextHopIPv4Address"},
	19: {kUint, "postMCastPacketDeltaCount"}, 20: {kUint, "postMCastOctetDeltaCount"},
	21: {kUint, "flowEndSysUpTime"}, 22: {kUint, "flowStartSysUpTime"}, 23: {kUint, "postOctetDeltaCount"},
	24: {kUint, "postPacketDeltaCount"}, 25: {kUint, "minimumIpTotalLength"}, 26: {kUint, "maximumIpTotalLength"},
	27: {kIP6, "sourceIPv6Address"}, 28: {kIP6, "destinationIPv6Address"}, 29: {kUint, "sourceIPv6PrefixLength"},
	30: {kUint, "destinationIPv6PrefixLength"}, 31: {kUint, "flowLabelIPv6"}, 32: {kUint, "icmpTypeCodeIPv4"},
	33: {kUint, "igmpType"}, 34: {kUint, "samplingInterval"}, 35: {kUint, "samplingAlgorithm"},
	36: {kUint, "flowActiveTimeout"}, 37: {kUint, "flowIdleTimeout"}, 38: {kUint, "engineType"}, 39: {kUint, "engineId"},
	40: {kUint, "exportedOctetTotalCount"}, 41: {kUint, "exportedMessageTotalCount"}, 42: {kUint, "exportedFlowRecordTotalCount"},
	43: {kIP4, "ipv4RouterSc"}, 44: {kIP4, "sourceIPv4Prefix"}, 45: {kIP4, "destinationIPv4Prefix"},
	46: {kUint, "mplsTopLabelType"}, 47: {kIP4, "mplsTopLabelIPv4Address"}, 48: {kUint, "samplerId"},
	49: {kUint, "samplerMode"}, 50: {kUint, "samplerRandomInterval"}, 51: {kUint, "classId"},
	52: {kUint, "minimumTTL"}, 53: {kUint, "maximumTTL"}, 54: {kUint, "fragmentIdentification"},
	55: {kUint, "postIpClassOfService"}, 56: {kMAC, "sourceMacAddress"}, 57: {kMAC, "postDestinationMacAddress"},
	58: {kUint, "vlanId"}, 59: {kUint, "postVlanId"}, 60: {kUint, "ipVersion"}, 61: {kUint, "flowDirection"},
	62: {kIP6, "ipNextHopIPv6Address"}, 63: {kIP6, "bgpNextHopIPv6Address"}, 64: {kUint, "ipv6ExtensionHeaders"},
	70: {kOctets, "mplsTopLabelStackSection"}, 71: {kOctets, "mplsLabelStackSection2"}, 72: {kOctets, "mplsLabelStackSection3"},
	80: {kMAC, "destinationMacAddress"}, 81: {kMAC, "postSourceMacAddress"}, 82: {kString, "interfaceName"},
	83: {kString, "interfaceDescription"}, 84: {kString, "samplerName"}, 85: {kUint, "octetTotalCount"},
	86: {kUint, "packetTotalCount"}, 87: {kUint, "flagsAndSamplerId"}, 88: {kUint, "fragmentOffset"},
	89: {kFwdStatus, "forwardingStatus"}, 90: {kOctets, "mplsVpnRouteDistinguisher"}, 91: {kUint, "mplsTopLabelPrefixLength"},
	92: {kUint, "srcTrafficIndex"}, 93: {kUint, "dstTrafficIndex"}, 94: {kString, "applicationDescription"},
	95: {kAppID, "applicationId"}, 96: {kString, "applicationName"}, 98: {kUint, "postIpDiffServCodePoint"},
	99: {kUint, "multicastReplicationFactor"}, 100: {kString, "className"}, 101: {kUint, "classificationEngineId"},
	102: {kUint, "layer2packetSectionOffset"}, 103: {kUint, "layer2packetSectionSize"}, 104: {kOctets, "layer2packetSectionData"},
	128: {kUint, "bgpNextAdjacentAsNumber"}, 129: {kUint, "bgpPrevAdjacentAsNumber"}, 130: {kIP4, "exporterIPv4Address"},
	131: {kIP6, "exporterIPv6Address"}, 132: {kUint, "droppedOctetDeltaCount"}, 133: {kUint, "droppedPacketDeltaCount"},
	134: {kUint, "droppedOctetTotalCount"}, 135: {kUint, "droppedPacketTotalCount"}, 136: {kUint, "flowEndReason"},
	137: {kUint, "commonPropertiesId"}, 138: {kUint, "observationPointId"}, 139: {kUint, "icmpTypeCodeIPv6"},
	140: {kIP6, "mplsTopLabelIPv6Address"}, 141: {kUint, "lineCardId"}, 142: {kUint, "portId"},
	143: {kUint, "meteringProcessId"}, 144: {kUint, "exportingProcessId"}, 145: {kUint, "templateId"},
	146: {kUint, "wlanChannelId"}, 147: {kString, "wlanSSID"}, 148: {kUint, "flowId"}, 149: {kUint, "observationDomainId"},
	150: {kUint, "flowStartSeconds"}, 151: {kUint, "flowEndSeconds"}, 152: {kUint, "flowStartMilliseconds"},
	153: {kUint, "flowEndMilliseconds"}, 154: {kUint, "flowStartMicroseconds"}, 155: {kUint, "flowEndMicroseconds"},
	156: {kUint, "flowStartNanoseconds"}, 157: {kUint, "flowEndNanoseconds"}, 158: {kUint, "flowStartDeltaMicroseconds"},
	159: {kUint, "flowEndDeltaMicroseconds"}, 160: {kUint, "systemInitTimeMilliseconds"}, 161: {kUint, "flowDurationMilliseconds"},
	162: {kUint, "flowDurationMicroseconds"}, 163: {kUint, "observedFlowTotalCount"}, 164: {kUint, "ignoredPacketTotalCount"},
	165: {kUint, "ignoredOctetTotalCount"}, 166: {kUint, "notSentFlowTotalCount"}, 167: {kUint, "notSentPacketTotalCount"},
	168: {kUint, "notSentOctetTotalCount"}, 169: {kIP6, "destinationIPv6Prefix"}, 170: {kIP6, "sourceIPv6Prefix"},
	171: {kUint, "postOctetTotalCount"}, 172: {kUint, "postPacketTotalCount"}, 173: {kUint, "flowKeyIndicator"},
	174: {kUint, "postMCastPacketTotalCount"}, 175: {kUint, "postMCastOctetTotalCount"}, 176: {kUint, "icmpTypeIPv4"},
	177: {kUint, "icmpCodeIPv4"}, 178: {kUint, "icmpTypeIPv6"}, 179: {kUint, "icmpCodeIPv6"}, 180: {kUint, "udpSourcePort"},
	181: {kUint, "udpDestinationPort"}, 182: {kUint, "tcpSourcePort"}, 183: {kUint, "tcpDestinationPort"},
	184: {kUint, "tcpSequenceNumber"}, 185: {kUint, "tcpAcknowledgementNumber"}, 186: {kUint, "tcpWindowSize"},
	187: {kUint, "tcpUrgentPointer"}, 188: {kUint, "tcpHeaderLength"}, 189: {kUint, "ipHeaderLength"},
	190: {kUint, "totalLengthIPv4"}, 191: {kUint, "payloadLengthIPv6"}, 192: {kUint, "ipTTL"}, 193: {kUint, "nextHeaderIPv6"},
	194: {kUint, "mplsPayloadLength"}, 195: {kUint, "ipDiffServCodePoint"}, 196: {kUint, "ipPrecedence"},
	197: {kUint, "fragmentFlags"}, 198: {kUint, "octetDeltaSumOfSquares"}, 199: {kUint, "octetTotalSumOfSquares"},
	200: {kUint, "mplsTopLabelTTL"}, 201: {kOctets, "mplsLabelStackLength"}, 202: {kUint, "mplsLabelStackDepth"},
	203: {kUint, "mplsTopLabelExp"}, 204: {kUint, "ipPayloadLength"}, 205: {kUint, "udpMessageLength"},
	206: {kUint, "isMulticast"}, 207: {kUint, "ipv4IHL"}, 208: {kUint, "ipv4Options"}, 209: {kUint, "tcpOptions"},
	210: {kSkip, ""}, 211: {kIP4, "collectorIPv4Address"}, 212: {kIP6, "collectorIPv6Address"},
	213: {kUint, "exportInterface"}, 214: {kUint, "exportProtocolVersion"}, 215: {kUint, "exportTransportProtocol"},
	216: {kUint, "collectorTransportPort"}, 217: {kUint, "exporterTransportPort"}, 218: {kUint, "tcpSynTotalCount"},
	219: {kUint, "tcpFinTotalCount"}, 220: {kUint, "tcpRstTotalCount"}, 221: {kUint, "tcpPshTotalCount"},
	222: {kUint, "tcpAckTotalCount"}, 223: {kUint, "tcpUrgTotalCount"}, 224: {kUint, "ipTotalLength"},
	225: {kIP4, "postNATSourceIPv4Address"}, 226: {kIP4, "postNATDestinationIPv4Address"},
	227: {kUint, "postNAPTSourceTransportPort"}, 228: {kUint, "postNAPTDestinationTransportPort"},
	229: {kUint, "natOriginatingAddressRealm"}, 230: {kUint, "natEvent"}, 231: {kUint, "initiatorOctets"},
	232: {kUint, "responderOctets"}, 233: {kUint, "firewallEvent"}, 234: {kUint, "ingressVRFID"}, 235: {kUint, "egressVRFID"},
	236: {kString, "VRFname"}, 237: {kUint, "postMplsTopLabelExp"}, 238: {kUint, "tcpWindowScale"},
	239: {kUint, "biflowDirection"}, 240: {kUint, "ethernetHeaderLength"}, 241: {kUint, "ethernetPayloadLength"},
	242: {kUint, "ethernetTotalLength"}, 243: {kUint, "dot1qVlanId"}, 244: {kUint, "dot1qPriority"},
	245: {kUint, "dot1qCustomerVlanId"}, 246: {kUint, "dot1qCustomerPriority"}, 256: {kUint, "ethernetType"},
	258: {kUint, "collectionTimeMilliseconds"}, 274: {kUint, "collectorCertificate"}, 276: {kUint, "dataRecordsReliability"},
	280: {kUint, "natType"}, 281: {kIP6, "postNATSourceIPv6Address"}, 282: {kIP6, "postNATDestinationIPv6Address"},
	283: {kUint, "natPoolId"}, 284: {kString, "natPoolName"}, 295: {kUint, "IPSecSPI"}, 298: {kUint, "initiatorPackets"},
	299: {kUint, "responderPackets"}, 300: {kUint, "observationDomainName"}, 302: {kUint, "selectorId"},
	322: {kUint, "observationTimeSeconds"}, 323: {kUint, "observationTimeMilliseconds"},
	324: {kUint, "observationTimeMicroseconds"}, 325: {kUint, "observationTimeNanoseconds"},
	352: {kUint, "layer2OctetDeltaCount"}, 353: {kUint, "layer2OctetTotalCount"}, 361: {kUint, "portRangeStart"},
	362: {kUint, "portRangeEnd"}, 363: {kUint, "portRangeStepSize"}, 364: {kUint, "portRangeNumPorts"},
	365: {kMAC, "staMacAddress"}, 366: {kIP4, "staIPv4Address"}, 367: {kMAC, "wtpMacAddress"},
	371: {kString, "userName"}, 372: {kUint, "applicationCategoryName"}, 373: {kUint, "applicationSubCategoryName"},
	374: {kUint, "applicationGroupName"}, 375: {kUint, "originalFlowsPresent"}, 376: {kUint, "originalFlowsInitiated"},
	377: {kUint, "originalFlowsCompleted"},
}

// definitions resolves field types to definitions: the built-in tables
// merged with a user's definitions file.
type definitions struct {
	v9    map[uint16]def
	ipfix map[uint32]map[uint16]def // enterprise → type
}

func builtinDefinitions() *definitions {
	d := &definitions{v9: map[uint16]def{}, ipfix: map[uint32]map[uint16]def{0: {}}}
	for k, v := range v9Defs {
		d.v9[k] = v
	}
	for k, v := range ipfixDefs {
		d.ipfix[0][k] = v
	}
	return d
}

// v9Field returns the definition of a NetFlow v9 field type: the v9 table,
// else the IPFIX name of the same number, else a generated name.
func (d *definitions) v9Field(typ uint16) def {
	if f, ok := d.v9[typ]; ok {
		return f
	}
	if f, ok := d.ipfix[0][typ]; ok && typ >= 128 {
		return f
	}
	return def{kUint, fmt.Sprintf("field_%d", typ)}
}

// ipfixField returns the definition of an IPFIX information element.
func (d *definitions) ipfixField(enterprise uint32, typ uint16) def {
	if f, ok := d.ipfix[enterprise][typ]; ok {
		return f
	}
	if enterprise == 0 {
		return def{kUint, fmt.Sprintf("ie_%d", typ)}
	}
	return def{kUint, fmt.Sprintf("enterprise_%d_ie_%d", enterprise, typ)}
}

// MaxDefinitionsBytes is the largest definitions file read.
const MaxDefinitionsBytes = 8 << 20

// parseDef reads one entry of a definitions file: [type, name] or [skip].
// The type is a name (":uint32", "ip4_addr") or, as in Logstash's v9 file,
// a byte length standing for an unsigned integer.
func parseDef(n *yaml.Node) (def, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) == 0 || len(n.Content) > 2 {
		return def{}, fmt.Errorf("line %d: want [type, name]", n.Line)
	}
	t := n.Content[0]
	var d def
	if t.Tag == "!!int" {
		d.k = kUint
	} else {
		k, ok := kindNames[strings.TrimPrefix(t.Value, ":")]
		if !ok {
			return def{}, fmt.Errorf("line %d: unsupported type %q", t.Line, t.Value)
		}
		d.k = k
	}
	if len(n.Content) == 2 {
		d.name = strings.TrimPrefix(n.Content[1].Value, ":")
	}
	if d.name == "" && d.k != kSkip {
		return def{}, fmt.Errorf("line %d: a %s field needs a name", n.Line, t.Value)
	}
	return d, nil
}

func parseID(n *yaml.Node, max uint64) (uint64, error) {
	var v uint64
	if n.Tag != "!!int" {
		return 0, fmt.Errorf("line %d: %q is not a number", n.Line, n.Value)
	}
	if err := n.Decode(&v); err != nil || v > max {
		return 0, fmt.Errorf("line %d: %q is not a number from 0 to %d", n.Line, n.Value, max)
	}
	return v, nil
}

func readYAML(path string) (*yaml.Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxDefinitionsBytes {
		return nil, fmt.Errorf("%s is over %d bytes", path, MaxDefinitionsBytes)
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(f).Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: bad syntax: %v", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: want a map of field types", path)
	}
	return doc.Content[0], nil
}

// loadV9 merges a NetFlow v9 definitions file ("type: [kind, name]") into d.
func (d *definitions) loadV9(path string) error {
	m, err := readYAML(path)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		id, err := parseID(m.Content[i], 65535)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		f, err := parseDef(m.Content[i+1])
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		d.v9[uint16(id)] = f
	}
	return nil
}

// loadIPFIX merges an IPFIX definitions file ("enterprise: {type: [kind,
// name]}") into d.
func (d *definitions) loadIPFIX(path string) error {
	m, err := readYAML(path)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		pen, err := parseID(m.Content[i], 1<<32-1)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		inner := m.Content[i+1]
		if inner.Kind != yaml.MappingNode {
			return fmt.Errorf("%s: line %d: want a map of field types under enterprise %d", path, inner.Line, pen)
		}
		if d.ipfix[uint32(pen)] == nil {
			d.ipfix[uint32(pen)] = map[uint16]def{}
		}
		for j := 0; j+1 < len(inner.Content); j += 2 {
			id, err := parseID(inner.Content[j], 32767)
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			f, err := parseDef(inner.Content[j+1])
			if err != nil {
				return fmt.Errorf("%s: %v", path, err)
			}
			d.ipfix[uint32(pen)][uint16(id)] = f
		}
	}
	return nil
}
