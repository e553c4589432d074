// Package timefmt parses and formats time the way Logstash does:
//
//   - Joda-Time patterns (JodaFormat for %{+yyyy.MM.dd} in sprintf, JodaParser
//     for the date filter and the syslog input), with Joda's zone names and
//     offsets (LoadJodaZone, ParseJodaOffset);
//   - ISO 8601 as Joda's ISODateTimeFormat parser reads it (ParseISO8601);
//   - the year of a timestamp that has none, as Logstash guesses it
//     (GuessYear, JodaLocalTime);
//   - Logstash's Timestamp text, the form a timestamp takes in JSON, sprintf,
//     conditionals and rubydebug (AppendTimestamp, ParseTimestamp).
//
// It depends on nothing but the standard library; the event package and the
// plugins build on it.
package timefmt
