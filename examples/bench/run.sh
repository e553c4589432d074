#!/usr/bin/env bash
# Runs our engine, syslog-ng and rsyslog (W1, W3, W5) through the same workloads in
# one run of the shared harness (../shared/bench), so figures compare as ratios
# on one machine. rsyslog: the Debian package's rsyslogd (its service unused);
# W5 uses the harness's rsyslog/w5.conf, W1 and W3 our rsyslog/w1.conf and
# w3.conf (their headers say why they are the closest rsyslog equivalents).
#   cp -r ../shared/bench /tmp/perf-anchors/harness && /tmp/perf-anchors/harness/setup.sh
#   examples/bench/run.sh [REPS]
# Results: $OUT (default /tmp/perf-anchors/results-ours.jsonl; the ratio table
# pairs every row in it, so give each run a fresh file); prints the harness table and the
# per-repetition ratio to each peer.
set -eu
REPS=${1:-3}; shift || true
SECTIONS=${*:-"w1 w2 w3 w4 w5"}
has() { [[ " $SECTIONS " == *" $1 "* ]]; }
D=/tmp/perf-anchors; H=$D/harness; OUT=${OUT:-$D/results-ours.jsonl}
R="python3 $H/runpeer.py --quiet-wait ${QUIET_WAIT:-90} --results $OUT"
repo=$(cd "$(dirname "$0")/../.." && pwd)
[ -x $H/sng.sh ] || { echo "run the harness setup first (see the header of $0)" >&2; exit 1; }
# The release build's flags (.ci/release), so the figures are those of the
# binary users run: the grpcnotrace tag lets the linker drop unused methods,
# which lowers peak RSS by about 5 MiB (docs/benchmarks.md, "Memory").
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -tags grpcnotrace -ldflags '-s -w' -o $D/bin/pipeline .)
IN=$D/data/syslog-1m.log; N=$(wc -l < $IN); BYTES=$(stat -c %s $IN)
cat $IN > /dev/null   # warm the page cache
mkdir -p $D/out $D/run
rcli() { redis-cli -h 127.0.0.1 -p 6390 "$@"; }
if has w3 || has w4; then rcli ping >/dev/null 2>&1 || $H/redis-start.sh; fi
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
[ -x $RSYSLOGD ] || { echo "no $RSYSLOGD: the rsyslog rows are skipped (apt-get install rsyslog)" >&2; RSYSLOGD=; }
if [ -n "$RSYSLOGD" ]; then
  mkdir -p $D/run/rsyslog-w1 $D/run/rsyslog  # w5.conf's workDirectory is run/rsyslog
  sed -e "s#\`INFILE\`#$IN#" -e "s#\`OUTFILE\`#$D/out/w1-rsyslog.txt#" -e "s#\`WORKDIR\`#$D/run/rsyslog-w1#" \
    $repo/examples/bench/rsyslog/w1.conf > $D/run/rsyslog-w1.conf
  sed -e "s#\`INFILE\`#$IN#" -e "s#\`WORKDIR\`#$D/run/rsyslog-w3#" $repo/examples/bench/rsyslog/w3.conf > $D/run/rsyslog-w3.conf
  # W3 needs omhiredis (apt-get install rsyslog-hiredis)
  RSYSLOG_W3=; [ -e /usr/lib/x86_64-linux-gnu/rsyslog/omhiredis.so ] && RSYSLOG_W3=1 && mkdir -p $D/run/rsyslog-w3
  # as the harness's rsyslog/run-w5.sh does (same port, same load generator)
  sed -e "s#\`OUTFILE\`#$D/out/w5-rsyslog.json#" -e "s#\`PORT\`#5518#" $H/rsyslog/w5.conf > $D/run/rsyslog-w5.conf
fi
for rep in $(seq 1 $REPS); do
 if has w1; then
  $R --name syslog-ng-3.38 --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin no-parse -> /dev/null" -- $H/sng.sh $H/syslog-ng/w1.conf
  if [ -n "$RSYSLOGD" ]; then
   rm -rf $D/run/rsyslog-w1/* $D/out/w1-rsyslog.txt
   $R --name rsyslog-8.2302 --workload W1 --events $N --bytes $BYTES --done lines:$D/out/w1-rsyslog.txt:$N --timeout 300 \
      --note "imfile (no parse) -> omfile constant 1-byte template" -- $RSYSLOGD -n -f $D/run/rsyslog-w1.conf -i $D/run/rsyslog-w1/pid
   rm -f $D/out/w1-rsyslog.txt
  fi
  $R --name pipeline --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> drop, ecs v8 defaults" -- $D/bin/pipeline run -f $repo/examples/bench/w1.hcl --log.level warn
  $R --name pipeline --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> drop, ecs disabled" -- $D/bin/pipeline run -f $repo/examples/bench/w1-noecs.hcl --log.level warn
 fi
 if has w1pq; then
  # W1 through the memory queue and the persisted queue, side by side (the
  # fsync policy in the note); the queue directory starts empty each time.
  $R --name pipeline --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> drop, memory queue" -- $D/bin/pipeline run -f $repo/examples/bench/w1.hcl --log.level warn --api.enabled=false
  rm -rf $D/run/pq
  $R --name pipeline --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> drop, persisted queue, fsync every 1024 events or 1 s" -- $D/bin/pipeline run -f $repo/examples/bench/w1.hcl --log.level warn --api.enabled=false --queue.type persisted --path.queue $D/run/pq
  rm -rf $D/run/pq
  $R --name pipeline --workload W1 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> drop, persisted queue, fsync every write" -- $D/bin/pipeline run -f $repo/examples/bench/w1.hcl --log.level warn --api.enabled=false --queue.type persisted --path.queue $D/run/pq --queue.checkpoint.writes 1
  rm -rf $D/run/pq
 fi
 if has w2; then
  sed "s#\`OUTFILE\`#$D/out/w2-sng.json#" $H/syslog-ng/w2.conf > $D/run/sng-w2.conf; rm -f $D/out/w2-sng.json
  $R --name syslog-ng-3.38 --workload W2 --events $N --bytes $BYTES --stdin $IN \
     --note "built-in RFC3164 parser + format-json to file" -- $H/sng.sh $D/run/sng-w2.conf
  $R --name go-grok-elastic --workload W2 --events $N --bytes $BYTES \
     --note "GOMAXPROCS=2 workers=2, JSON lines to file" -- env GOMAXPROCS=2 $D/bin/grokbench -lib elastic -in $IN -out $D/out/w2-go-elastic.json
  rm -f $D/out/w2-ours.json
  $R --name pipeline --workload W2 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> grok <%{NONNEGINT:priority}>%{SYSLOGLINE} -> json_lines file" -- env W2_OUT=$D/out/w2-ours.json $D/bin/pipeline run -f $repo/examples/bench/w2.hcl --log.level warn
 fi
 if has w3; then
  rcli del q1 q2 >/dev/null
  $R --name go-redis-pipelined --workload W3 --events $N --bytes $BYTES \
     --note "go-redis v9, RPUSH 500/batch to q1,q2 in one pipeline" -- $D/bin/redispush -keys q1,q2 -in $IN
  rcli del q1 q2 >/dev/null
  $R --name syslog-ng-3.38 --workload W3 --events $N --bytes $BYTES --stdin $IN \
     --note "parse + format-json + redis() RPUSH x2, batch-lines(500)" -- $H/sng.sh $H/syslog-ng/w3.conf
  if [ -n "$RSYSLOGD" ] && [ -n "$RSYSLOG_W3" ]; then
   rcli del q1 q2 >/dev/null; rm -rf $D/run/rsyslog-w3/*
   $R --name rsyslog-8.2302 --workload W3 --events $N --bytes $BYTES --done llen:q1,q2:$N --timeout 300 \
      --note "imfile (no parse) -> jsonf 3 fields -> omhiredis RPUSH x2" -- $RSYSLOGD -n -f $D/run/rsyslog-w3.conf -i $D/run/rsyslog-w3/pid
   [ "$(rcli llen q1)" = "$N" ] && [ "$(rcli llen q2)" = "$N" ] || echo "W3 rsyslog: lists hold $(rcli llen q1)/$(rcli llen q2), want $N" >&2
  fi
  rcli del q1 q2 >/dev/null
  $R --name pipeline --workload W3 --events $N --bytes $BYTES --stdin $IN \
     --note "stdin -> json -> redis RPUSH to q1 and q2" -- $D/bin/pipeline run -f $repo/examples/bench/w3.hcl --log.level warn
  [ "$(rcli llen q1)" = "$N" ] && [ "$(rcli llen q2)" = "$N" ] || echo "W3: lists hold $(rcli llen q1)/$(rcli llen q2), want $N" >&2
  rcli del q1 q2 >/dev/null
 fi
 if has w4; then
  rcli del q1 q2 >/dev/null; $D/bin/redispush -keys q1 -in $IN 2>>$D/run/fill.log
  $R --name go-redis-lpop-count --workload W4 --events $N --note "LPOP q1 500 -> JSON lines file" -- $D/bin/redispop -key q1 -out $D/out/w4-go.json
  rcli del q1 >/dev/null; $D/bin/redispush -keys q1 -in $IN 2>>$D/run/fill.log
  rm -f $D/out/w4-gg.json $D/run/gg-w4.log
  $R --name gogstash --workload W4 --events $N --log $D/out/w4-gg.json --done report:$D/out/w4-gg.json:$((N-1000)) --timeout 300 \
     --note "redis input (EVAL batch 125) -> stdout json to file" -- $D/bin/gogstash --config $H/gogstash/w4.yml
  rcli del q1 >/dev/null; $D/bin/redispush -keys q1 -in $IN 2>>$D/run/fill.log
  rm -f $D/out/w4-ours.json; rcli del q1:processing:bench q1:processing:bench:state q1:processing:bench:owner >/dev/null
  $R --name pipeline --workload W4 --events $N --done lines:$D/out/w4-ours.json:$N --timeout 300 \
     --note "redis list input (loss-free, batch 500) -> json_lines file" -- env W4_OUT=$D/out/w4-ours.json $D/bin/pipeline run -f $repo/examples/bench/w4.hcl --log.level warn
  rcli del q1 >/dev/null
 fi
 if has w5; then
  sed "s#\`OUTFILE\`#$D/out/w5-sng.json#" $H/syslog-ng/w5.conf > $D/run/sng-w5.conf; rm -f $D/out/w5-sng.json
  $R --name syslog-ng-3.38 --workload W5 --events $N --bytes $BYTES --load "$D/bin/tcpsend -addr 127.0.0.1:5514 -conns 1 -in $IN" --load-port 5514 \
     --done lines:$D/out/w5-sng.json:$N --timeout 300 --note "network() tcp 1 conn -> RFC3164 parse -> format-json file" -- $H/sng.sh $D/run/sng-w5.conf
  if [ -n "$RSYSLOGD" ]; then
   rm -f $D/out/w5-rsyslog.json $D/run/rsyslog/pid
   $R --name rsyslog-8.2302 --workload W5 --events $N --bytes $BYTES --load "$D/bin/tcpsend -addr 127.0.0.1:5518 -conns 1 -in $IN" --load-port 5518 \
      --done lines:$D/out/w5-rsyslog.json:$N --timeout 300 --note "imtcp 1 conn -> RFC3164 (built-in) -> jsonf template 6 fields -> omfile" \
      -- $RSYSLOGD -n -f $D/run/rsyslog-w5.conf -i $D/run/rsyslog/pid
   rm -f $D/out/w5-rsyslog.json
  fi
  rm -f $D/out/w5-ours.json
  $R --name pipeline --workload W5 --events $N --bytes $BYTES --load "$D/bin/tcpsend -addr 127.0.0.1:5517 -conns 1 -in $IN" --load-port 5517 \
     --done lines:$D/out/w5-ours.json:$N --timeout 300 --note "syslog input, tcp 1 conn -> Logstash fields -> json_lines file" \
     -- env W5_OUT=$D/out/w5-ours.json W5_PORT=5517 $D/bin/pipeline run -f $repo/examples/bench/w5.hcl --log.level warn
 fi
done
python3 $H/summarize.py $OUT
python3 - "$OUT" <<'PY'
import json, sys, collections
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
# Pair each of our runs with the peers run just before it (same repetition);
# in w1pq the persisted-queue runs are also paired with the memory-queue run.
last = {}
pairs = collections.defaultdict(list)
for r in rows:
    if r["status"] != "ok":
        continue
    if r["name"] != "pipeline":
        last[(r["workload"], r["name"])] = r
        continue
    for (w, peer), p in last.items():
        if w == r["workload"]:
            pairs[(w, r["note"], peer)].append((r, p))
    if "memory queue" in r["note"]:
        last[(r["workload"], "pipeline, memory queue")] = r
def rng(xs, f="{:.2f}"):
    xs = sorted(xs)
    return f.format(xs[0]) if xs[0] == xs[-1] else (f + "–" + f).format(xs[0], xs[-1])
print("\n| workload | ours | peer | reps | events/s ratio to peer (min–max, median) | CPU µs/event ours / peer | peak RSS MiB ours / peer | load1 at start |")
print("|---|---|---|---|---|---|---|---|")
for (w, note, peer), ps in sorted(pairs.items()):
    e = sorted(r["eps"] / p["eps"] for r, p in ps)
    print(f"| {w} | {note} | {peer} | {len(ps)} | {e[0]:.2f}–{e[-1]:.2f}, {e[len(e)//2]:.2f} "
          f"| {rng([r['cpu_us_per_event'] for r, _ in ps])} / {rng([p['cpu_us_per_event'] for _, p in ps])} "
          f"| {rng([r['peak_rss_MiB'] for r, _ in ps], '{:.1f}')} / {rng([p['peak_rss_MiB'] for _, p in ps], '{:.1f}')} "
          f"| {rng([x['load1_at_start'] for pr in ps for x in pr], '{:.1f}')} |")
PY
