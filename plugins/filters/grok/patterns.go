package grok

import (
	"fmt"
	"reflect"

	vjgrok "github.com/vjeantet/grok"
)

// legacyPatterns are the core grok patterns (Logstash's legacy, non-ECS
// names) as github.com/vjeantet/grok ships them. That module keeps its pattern
// map unexported, so it is read from a fresh vjeantet Grok value, which holds
// each definition as written (rawPattern), by reflection. Reflection reads
// without modifying; TestLibraryCompiles fails if a new version of the
// library moves the map.
var legacyPatterns = loadVjeantetPatterns()

func loadVjeantetPatterns() map[string]string {
	g, err := vjgrok.New()
	if err != nil {
		panic(fmt.Sprintf("grok: vjeantet/grok: %v", err))
	}
	raw := reflect.ValueOf(g).Elem().FieldByName("rawPattern")
	if !raw.IsValid() || raw.Kind() != reflect.Map {
		return map[string]string{}
	}
	out := make(map[string]string, raw.Len())
	iter := raw.MapRange()
	for iter.Next() {
		out[iter.Key().String()] = iter.Value().String()
	}
	return out
}

// syslogPatterns are Logstash's linux-syslog pattern names that the core set
// above lacks. They are written here from the descriptions in Logstash's
// pattern documentation (legacy mode), not taken from a pattern file:
//
//   - SYSLOGBASE2: a BSD syslog header whose timestamp may also be ISO8601
//     (captured as timestamp8601), with an optional facility, the host
//     (logsource) and an optional "program[pid]:" part;
//   - SYSLOGLINE: SYSLOGBASE2, a space, and the rest as message;
//   - SYSLOG5424PRI, SYSLOG5424SD, SYSLOG5424PRINTASCII, SYSLOG5424BASE and
//     SYSLOG5424LINE: RFC 5424 lines, with the syslog5424_* field names;
//   - CRON_ACTION, CRONLOG: cron's "(user) ACTION (command)" lines.
//
// SYSLOGPAMSESSION is not provided: Logstash's definition needs look-ahead,
// which Go's RE2 engine cannot run.
var syslogPatterns = map[string]string{
	"SYSLOGBASE2":          `(?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp8601}) (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource}+(?: %{SYSLOGPROG}:|)`,
	"SYSLOGLINE":           `%{SYSLOGBASE2} %{GREEDYDATA:message}`,
	"SYSLOG5424PRINTASCII": `[!-~]+`,
	"SYSLOG5424PRI":        `<%{NONNEGINT:syslog5424_pri}>`,
	"SYSLOG5424SD":         `\[%{DATA}\]+`,
	"SYSLOG5424BASE":       `%{SYSLOG5424PRI}%{NONNEGINT:syslog5424_ver} +(?:%{TIMESTAMP_ISO8601:syslog5424_ts}|-) +(?:%{HOSTNAME:syslog5424_host}|-) +(-|%{SYSLOG5424PRINTASCII:syslog5424_app}) +(-|%{SYSLOG5424PRINTASCII:syslog5424_proc}) +(-|%{SYSLOG5424PRINTASCII:syslog5424_msgid}) +(?:%{SYSLOG5424SD:syslog5424_sd}|-|)`,
	"SYSLOG5424LINE":       `%{SYSLOG5424BASE} +%{GREEDYDATA:syslog5424_msg}`,
	"CRON_ACTION":          `[A-Z ]+`,
	"CRONLOG":              `%{SYSLOGBASE} \(%{USER:user}\) %{CRON_ACTION:action} \(%{DATA:message}\)`,
}
