// Package all registers every plugin of this module with engine.Default. Import
// it for its side effects, only from main, CLI tests and plugins/e2e:
//
//	import _ "github.com/pipelined/pipeline/plugins/all"
package all

import (
	// Codecs.
	_ "github.com/pipelined/pipeline/plugins/codecs/dots"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	_ "github.com/pipelined/pipeline/plugins/codecs/line"
	_ "github.com/pipelined/pipeline/plugins/codecs/multiline"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/codecs/rubydebug"

	// Filters.
	_ "github.com/pipelined/pipeline/plugins/filters/aggregate"
	_ "github.com/pipelined/pipeline/plugins/filters/cidr"
	_ "github.com/pipelined/pipeline/plugins/filters/clone"
	_ "github.com/pipelined/pipeline/plugins/filters/csv"
	_ "github.com/pipelined/pipeline/plugins/filters/date"
	_ "github.com/pipelined/pipeline/plugins/filters/dedot"
	_ "github.com/pipelined/pipeline/plugins/filters/dissect"
	_ "github.com/pipelined/pipeline/plugins/filters/dns"
	_ "github.com/pipelined/pipeline/plugins/filters/drop"
	_ "github.com/pipelined/pipeline/plugins/filters/fingerprint"
	_ "github.com/pipelined/pipeline/plugins/filters/geoip"
	_ "github.com/pipelined/pipeline/plugins/filters/grok"
	_ "github.com/pipelined/pipeline/plugins/filters/json"
	_ "github.com/pipelined/pipeline/plugins/filters/jsonencode"
	_ "github.com/pipelined/pipeline/plugins/filters/kv"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	_ "github.com/pipelined/pipeline/plugins/filters/prune"
	_ "github.com/pipelined/pipeline/plugins/filters/ruby"
	_ "github.com/pipelined/pipeline/plugins/filters/split"
	_ "github.com/pipelined/pipeline/plugins/filters/syslogpri"
	_ "github.com/pipelined/pipeline/plugins/filters/translate"
	_ "github.com/pipelined/pipeline/plugins/filters/truncate"
	_ "github.com/pipelined/pipeline/plugins/filters/urldecode"
	_ "github.com/pipelined/pipeline/plugins/filters/useragent"
	_ "github.com/pipelined/pipeline/plugins/filters/uuid"

	// Inputs.
	_ "github.com/pipelined/pipeline/plugins/inputs/beats"
	_ "github.com/pipelined/pipeline/plugins/inputs/deadletterqueue"
	_ "github.com/pipelined/pipeline/plugins/inputs/elasticsearch"
	_ "github.com/pipelined/pipeline/plugins/inputs/file"
	_ "github.com/pipelined/pipeline/plugins/inputs/gelf"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	_ "github.com/pipelined/pipeline/plugins/inputs/http"
	_ "github.com/pipelined/pipeline/plugins/inputs/jdbc"
	_ "github.com/pipelined/pipeline/plugins/inputs/kafka"
	_ "github.com/pipelined/pipeline/plugins/inputs/pipeline"
	_ "github.com/pipelined/pipeline/plugins/inputs/rabbitmq"
	_ "github.com/pipelined/pipeline/plugins/inputs/redis"
	_ "github.com/pipelined/pipeline/plugins/inputs/stdin"
	_ "github.com/pipelined/pipeline/plugins/inputs/syslog"
	_ "github.com/pipelined/pipeline/plugins/inputs/tcp"
	_ "github.com/pipelined/pipeline/plugins/inputs/udp"

	// Outputs.
	_ "github.com/pipelined/pipeline/plugins/outputs/elasticsearch"
	_ "github.com/pipelined/pipeline/plugins/outputs/file"
	_ "github.com/pipelined/pipeline/plugins/outputs/http"
	_ "github.com/pipelined/pipeline/plugins/outputs/immudb"
	_ "github.com/pipelined/pipeline/plugins/outputs/kafka"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
	_ "github.com/pipelined/pipeline/plugins/outputs/opensearch"
	_ "github.com/pipelined/pipeline/plugins/outputs/pipeline"
	_ "github.com/pipelined/pipeline/plugins/outputs/rabbitmq"
	_ "github.com/pipelined/pipeline/plugins/outputs/redis"
	_ "github.com/pipelined/pipeline/plugins/outputs/stdout"
)
