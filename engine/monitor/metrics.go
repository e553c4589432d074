package monitor

import (
	"math"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
)

// appendMetrics writes the counters in Prometheus text format (version
// 0.0.4), by hand: one family at a time, each with HELP and TYPE, labels
// pipeline, and for plugins id and plugin (the plugin type).
func appendMetrics(b []byte, snaps []snap) []byte {
	type sample struct {
		labels string
		value  float64
	}
	family := func(name, typ, help string, samples []sample) {
		if len(samples) == 0 {
			return
		}
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
		for _, s := range samples {
			b = append(b, name...)
			b = append(b, s.labels...)
			b = append(b, ' ')
			if s.value == math.Trunc(s.value) && math.Abs(s.value) < 1e15 {
				b = strconv.AppendInt(b, int64(s.value), 10)
			} else {
				b = strconv.AppendFloat(b, s.value, 'g', -1, 64)
			}
			b = append(b, '\n')
		}
	}
	perPipeline := func(name, typ, help string, v func(engine.Snapshot) float64) {
		var ss []sample
		for _, p := range snaps {
			ss = append(ss, sample{labelSet("pipeline", p.snap.Name), v(p.snap)})
		}
		family(name, typ, help, ss)
	}
	perPlugin := func(name, help string, list func(engine.Snapshot) []engine.PluginSnapshot, v func(engine.PluginSnapshot) float64) {
		var ss []sample
		for _, p := range snaps {
			for _, x := range list(p.snap) {
				ss = append(ss, sample{labelSet("pipeline", p.snap.Name, "id", x.ID, "plugin", x.Type), v(x)})
			}
		}
		family(name, "counter", help, ss)
	}
	i64 := func(f func(engine.Snapshot) int64) func(engine.Snapshot) float64 {
		return func(s engine.Snapshot) float64 { return float64(f(s)) }
	}
	perPipeline("pipeline_events_in_total", "counter", "Events emitted by the pipeline's inputs.", i64(func(s engine.Snapshot) int64 { return s.In }))
	perPipeline("pipeline_events_filtered_total", "counter", "Events that left the filter stage.", i64(func(s engine.Snapshot) int64 { return s.Filtered }))
	perPipeline("pipeline_events_out_total", "counter", "Event deliveries confirmed by outputs (one per output).", i64(func(s engine.Snapshot) int64 { return s.Out }))
	perPipeline("pipeline_events_dropped_total", "counter", "Events dropped by filters.", i64(func(s engine.Snapshot) int64 { return s.Dropped }))
	perPipeline("pipeline_events_unrouted_total", "counter", "Events that no output condition matched.", i64(func(s engine.Snapshot) int64 { return s.Unrouted }))
	perPipeline("pipeline_events_filter_failed_total", "counter", "Filter calls that failed on an event (tagged it, e.g. _grokparsefailure).", i64(func(s engine.Snapshot) int64 { return s.FilterFailed }))
	perPipeline("pipeline_events_failed_total", "counter", "Event deliveries refused for good by outputs, without a dead letter queue.", i64(func(s engine.Snapshot) int64 { return s.Failed }))
	perPipeline("pipeline_events_dead_lettered_total", "counter", "Event deliveries refused for good by outputs and kept in the dead letter queue.", i64(func(s engine.Snapshot) int64 { return s.DeadLettered }))
	perPipeline("pipeline_panics_recovered_total", "counter", "Panics recovered in the pipeline's filters, conditions, outputs, workers and inputs.", i64(func(s engine.Snapshot) int64 { return s.Panics }))
	perPipeline("pipeline_queue_write_errors_total", "counter", "Persisted-queue writes that failed and were retried (the inputs waited).", i64(func(s engine.Snapshot) int64 { return s.QueueWriteErrors }))
	perPipeline("pipeline_queue_read_errors_total", "counter", "Persisted-queue reads that failed and were retried.", i64(func(s engine.Snapshot) int64 { return s.QueueReadErrors }))
	perPipeline("pipeline_retries_total", "counter", "Output writes that failed and were retried.", i64(func(s engine.Snapshot) int64 { return s.Retries }))
	perPipeline("pipeline_queue_events", "gauge", "Events waiting in the memory queue for a worker, or not yet acknowledged in the persisted queue.", i64(func(s engine.Snapshot) int64 { return s.QueueEvents }))
	perPipeline("pipeline_queue_oldest_age_seconds", "gauge", "Age of the oldest event waiting in the queue (0 when empty).", func(s engine.Snapshot) float64 { return s.QueueOldestAge.Seconds() })
	perPipeline("pipeline_queue_size_bytes", "gauge", "Bytes held by the persisted queue (0 for the memory queue).", i64(func(s engine.Snapshot) int64 { return s.QueueBytes }))
	reloads := func(name, help string, v func(ReloadStats) int64) {
		var ss []sample
		for _, p := range snaps {
			ss = append(ss, sample{labelSet("pipeline", p.snap.Name), float64(v(p.reloads))})
		}
		family(name, "counter", help, ss)
	}
	reloads("pipeline_reloads_successes_total", "Configuration reloads that replaced the pipeline.", func(r ReloadStats) int64 { return r.Successes })
	reloads("pipeline_reloads_failures_total", "Configuration reloads of the pipeline that were refused.", func(r ReloadStats) int64 { return r.Failures })
	perPipeline("pipeline_worker_duration_seconds_total", "counter", "Time workers spent on batches.", func(s engine.Snapshot) float64 { return s.Duration.Seconds() })
	perPipeline("pipeline_queue_push_duration_seconds_total", "counter", "Time inputs waited to hand batches to the queue.", func(s engine.Snapshot) float64 { return s.QueuePush.Seconds() })

	inputs := func(s engine.Snapshot) []engine.PluginSnapshot { return s.Inputs }
	filters := func(s engine.Snapshot) []engine.PluginSnapshot { return s.Filters }
	outputs := func(s engine.Snapshot) []engine.PluginSnapshot { return s.Outputs }
	perPlugin("pipeline_input_events_out_total", "Events emitted by the input.", inputs, func(x engine.PluginSnapshot) float64 { return float64(x.Out) })
	perPlugin("pipeline_input_queue_push_duration_seconds_total", "Time the input waited to hand batches to the queue.", inputs, func(x engine.PluginSnapshot) float64 { return x.Duration.Seconds() })
	perPlugin("pipeline_filter_events_in_total", "Events the filter received.", filters, func(x engine.PluginSnapshot) float64 { return float64(x.In) })
	perPlugin("pipeline_filter_events_out_total", "Events the filter passed on.", filters, func(x engine.PluginSnapshot) float64 { return float64(x.Out) })
	perPlugin("pipeline_filter_events_dropped_total", "Events the filter dropped.", filters, func(x engine.PluginSnapshot) float64 { return float64(x.Dropped) })
	perPlugin("pipeline_filter_events_failed_total", "Events the filter failed on (tagged with its tag_on_failure).", filters, func(x engine.PluginSnapshot) float64 { return float64(x.Failed) })
	perPlugin("pipeline_filter_duration_seconds_total", "Time spent in the filter (every call timed for filters over 2 µs a call; cheaper ones sampled one call in 32 and extrapolated).", filters, func(x engine.PluginSnapshot) float64 { return x.Duration.Seconds() })
	perPlugin("pipeline_output_events_in_total", "Events handed to the output.", outputs, func(x engine.PluginSnapshot) float64 { return float64(x.In) })
	perPlugin("pipeline_output_events_out_total", "Events the output delivered.", outputs, func(x engine.PluginSnapshot) float64 { return float64(x.Out) })
	perPlugin("pipeline_output_events_failed_total", "Events the output refused for good (without a dead letter queue).", outputs, func(x engine.PluginSnapshot) float64 { return float64(x.Failed) })
	perPlugin("pipeline_output_events_dead_lettered_total", "Events the output refused for good, kept in the dead letter queue.", outputs, func(x engine.PluginSnapshot) float64 { return float64(x.DeadLettered) })
	perPlugin("pipeline_output_duration_seconds_total", "Time spent in the output's writes.", outputs, func(x engine.PluginSnapshot) float64 { return x.Duration.Seconds() })

	family("process_panics_recovered_total", "counter", "Panics recovered in the process, connection handlers included (the connection or batch failed, the process lived on).",
		[]sample{{"", float64(engine.PanicsRecovered())}})

	// The plugins' own counters (engine.Counted): one family per kind and
	// name, e.g. pipeline_input_datagrams_dropped_total, in the order met.
	for _, kind := range []struct {
		name string
		list func(engine.Snapshot) []engine.PluginSnapshot
	}{{"input", inputs}, {"filter", filters}, {"output", outputs}} {
		var names []string
		help := map[string]string{}
		byName := map[string][]sample{}
		for _, p := range snaps {
			for _, x := range kind.list(p.snap) {
				for _, c := range x.Counters {
					if _, ok := byName[c.Name]; !ok {
						names = append(names, c.Name)
						help[c.Name] = c.Help
					}
					byName[c.Name] = append(byName[c.Name], sample{labelSet("pipeline", p.snap.Name, "id", x.ID, "plugin", x.Type), float64(c.Value)})
				}
			}
		}
		for _, n := range names {
			family("pipeline_"+kind.name+"_"+n+"_total", "counter", help[n], byName[n])
		}
	}

	var size, max, dropped, expired []sample
	for _, p := range snaps {
		if p.dlq == nil {
			continue
		}
		l := labelSet("pipeline", p.snap.Name)
		size = append(size, sample{l, float64(p.dlq.SizeBytes)})
		max = append(max, sample{l, float64(p.dlq.MaxBytes)})
		dropped = append(dropped, sample{l, float64(p.dlq.Dropped)})
		expired = append(expired, sample{l, float64(p.dlq.Expired)})
	}
	family("pipeline_dead_letter_queue_size_bytes", "gauge", "Bytes held by the dead letter queue.", size)
	family("pipeline_dead_letter_queue_max_bytes", "gauge", "The dead letter queue's max_bytes.", max)
	family("pipeline_dead_letter_queue_dropped_events_total", "counter", "Entries the full dead letter queue dropped.", dropped)
	family("pipeline_dead_letter_queue_expired_events_total", "counter", "Entries deleted for being older than retain.age.", expired)
	return b
}

// labelSet formats {k="v",…}, escaping values as the text format requires.
func labelSet(kv ...string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(kv[i])
		sb.WriteString(`="`)
		for _, r := range kv[i+1] {
			switch r {
			case '\\':
				sb.WriteString(`\\`)
			case '"':
				sb.WriteString(`\"`)
			case '\n':
				sb.WriteString(`\n`)
			default:
				sb.WriteRune(r)
			}
		}
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}
