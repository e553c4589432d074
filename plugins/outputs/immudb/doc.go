// Package immudb implements the immudb output: every event becomes one row of
// a table in immudb (https://immudb.io), a tamper-evident database in which
// every transaction is chained to the previous one by hashes, so a change to
// stored data behind the database's back is detected by proofs. It replaces
// the reference deployment's Python consumer and writes the same rows.
//
// Each event is serialised as the Python consumer did it, json.dumps(event,
// sort_keys=True) of the event's JSON without [@metadata] (key_format
// "python", byte for byte: ", " and ": " separators, sorted keys, non-ASCII
// escaped as \uXXXX, Python's float repr). The row is (log_key, value) with
// log_key the SHA-256 hex of value. key_format "json" stores the engine's
// own compact JSON instead (sorted keys, UTF-8).
//
// mode "embedded" (the default) keeps an immudb store in the process, in the
// directory path; only one process can open it at a time, so stop the pipeline
// before running `pipeline verify` on it. mode "server" connects to an immudb
// server over gRPC (host, port, username, password, database; TLS with
// ssl_enabled and mutual TLS with ssl_certificate and ssl_key). With
// create_database the database is created when missing, with retention_period
// and truncation_frequency (immudb's minimums: 24h and 1h); with create_table
// the table is created when missing as
// (log_key VARCHAR[64] PRIMARY KEY, value VARCHAR[value_max_length]).
//
// Writes are batched: each Write of the pipeline becomes one immudb
// transaction of up to batch_size rows (a multi-row INSERT), so one fsync
// covers the whole batch instead of one per event. The pipeline's batch size
// (pipeline.batch.size) and batch delay decide how many events a Write carries
// and how long a partial batch waits: set pipeline.batch.size to batch_size for
// the best throughput.
//
// Failure semantics: Write returns nil only after immudb committed every row.
// An unreachable server is an error wrapping engine.ErrNotConnected: the
// engine reconnects and retries with back-pressure. An event delivered twice
// (at-least-once replays) finds its row already stored with the same value and
// counts as delivered. A row with the same key but a different value cannot
// happen for a hash key unless the store was tampered with: that event fails
// permanently, naming the key. A value longer than value_max_length is never
// truncated: the event fails permanently (to the dead letter queue when one is
// configured, otherwise counted and logged).
//
// retention_period and truncation_frequency apply to server mode databases
// created by the output; an embedded store keeps everything.
package immudb
