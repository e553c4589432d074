// Package redis implements the redis input, like Logstash's: it reads events
// from a Redis list (data_type "list"), a channel ("channel") or the channels
// matching a pattern ("pattern_channel"). Each list element or message is
// decoded with the input's codec, json by default: an element that is not JSON
// becomes an event with the text in message and the tag _jsonparsefailure, so
// it is never lost.
//
// # Lists: batched and loss-free (at-least-once)
//
// Logstash pops elements from the list, so an element popped but not yet
// delivered is lost when Logstash dies. This input instead moves up to
// batch_count elements at a time, atomically (one Lua script: LRANGE + LTRIM of
// key, RPUSH to the processing list), from the head of key to the tail of its
// own processing list, "<key>:processing:<consumer_id>", and emits them as one
// batch. Only when the engine acknowledges the batch (every event delivered by
// every output, or dropped by a filter, or failed for good) are its elements
// removed from the processing list; acknowledgements out of order wait for
// the batches before them. A hash "<processing list>:state" counts the
// elements moved into and trimmed from the processing list, so that a command
// whose reply was lost (Redis stopped or the connection broke) is detected and
// neither loses nor trims the wrong elements. At start, whatever is left in the
// processing list (elements a previous run moved but did not see acknowledged,
// say because it was killed) is emitted first. So every element is delivered
// at least once, across crashes of the engine; an element whose batch was
// delivered but not yet acknowledged when the engine died is delivered again
// after the restart (a duplicate). Elements are lost only with Redis's own data
// (Redis without persistence restarted, say).
//
// consumer_id (not a Logstash option) names the processing list. It defaults
// to "<hostname>:<pipeline>:<plugin id>", with ":<n>" added for thread n when
// threads is above 1, which is stable across restarts of the same
// configuration on the same machine. Two running inputs must never share a
// consumer_id, and a lease enforces it: the key "<processing list>:owner"
// names the running owner (host, process id) and expires 15 seconds after its
// last renewal. An input that finds the lease held by another running input
// logs an error and waits until it is released (the owner stopped) or expires;
// a lease left by a process of this host that no longer exists (the engine was
// killed) is taken over at once. So set consumer_id explicitly when several
// engine processes with the same pipeline drain one list from one machine, or
// all but one wait. Elements left in the processing list of a consumer that
// never comes back must be moved back by hand (for example with LMOVE in a
// loop).
//
// When the list is empty the input waits for the next element with BLMOVE
// (blocking for a second at a time), then moves the rest of the batch. While
// emit blocks (the pipeline is full) nothing more is moved: back-pressure
// leaves the elements in the list for other consumers. Redis 6.2 or newer is
// required for lists (BLMOVE).
//
// # Lists, one reader at a time: list_mode "exclusive"
//
// The processing list costs Redis a copy of every element (about 1.1 µs of
// Redis CPU per element, against 0.2 µs for a plain LPOP). With list_mode
// "exclusive" the input reads the list where it is instead: it takes a lease
// on the list ("<key>:reader:owner", renewed, expiring 15 seconds after the
// last renewal, taken over at once from a killed process of this host), reads
// batches with LRANGE behind what it already read, and once the engine
// acknowledges a prefix of them, removes that prefix from the head with LTRIM
// (about 0.3 µs of Redis CPU per element in all). An element stays in the list
// until its batch is acknowledged, so a crash loses nothing: the next holder
// of the lease reads it again (at least once; the duplicates are the batches
// emitted but not yet acknowledged). A counter "<key>:reader:trimmed" numbers
// the elements trimmed so far, which makes a trim whose reply was lost safe to
// redo, and makes the input read the list again from its head if Redis lost
// data. Producers may RPUSH to the tail at any time; nothing else may remove
// elements from the list (another consumer's LPOP, a DEL of the list while the
// input runs), or the trims would remove elements not yet delivered. Only one
// input reads a list at a time: others with the same key wait as standbys
// and take over when it stops (threads is ignored). Redis serializes the
// commands on one list anyway; to spread the decoding over several engine
// processes, use several lists, or the default mode. When the list is empty
// the input waits with BLMOVE key key LEFT LEFT (which moves nothing).
//
// # Redis Cluster
//
// cluster_nodes (seed nodes, "host:port"), or cluster => true with host and
// port as the one seed, read from a Redis Cluster with go-redis's cluster
// client (MOVED and ASK followed, slots learnt anew after a failover). The
// processing list and its state and owner keys must hash to the list's slot,
// so when key has no hash tag the processing list is named
// "{<key>}:processing:<consumer_id>" (the key itself as the tag); a key with
// a hash tag keeps the usual name. Redis replicates asynchronously: after a
// master fails over, moves and trims it had not replicated are undone, so
// elements come again (duplicates), none is lost. Several indexers drain one
// list with one consumer_id each.
//
// # Channels: at-most-once
//
// Pub/sub has no acknowledgement: a message published while the input is not
// subscribed (not started yet, reconnecting) is never seen, and a message
// received but not yet delivered when the engine dies is lost. Messages are
// emitted in batches of what has arrived, up to batch_count.
//
// Failure semantics: connection and Redis errors (Redis down, a wrong password,
// a key holding another type) are logged with the host and db, and the input
// retries with a capped backoff until the pipeline stops; Run returns nil when
// ctx is cancelled, after waiting (up to ten seconds) for the acknowledgement
// of the batches it emitted. The password is never logged.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/redislog"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterInput("redis", New, engine.WithDefaultCodec("json"))
	redislog.Install()
}

// Counters reports, for a channel or pattern_channel input, the pub/sub
// messages go-redis dropped (counted for all such inputs of the process).
func (in *Input) Counters() []engine.Counter {
	if in.dataType == "list" {
		return nil
	}
	return []engine.Counter{{Name: "pubsub_messages_dropped",
		Help:  "Redis pub/sub messages dropped because the pipeline did not take them for a minute (all channel inputs of the process).",
		Value: redislog.PubSubDropped()}}
}

// Options configures the redis input.
type Options struct {
	// Host is the Redis server's host name or address.
	Host string `hcl:"host,optional"`
	// Port is the Redis server's port.
	Port int `hcl:"port,optional"`
	// DB is the Redis database number.
	DB int `hcl:"db,optional"`
	// Password authenticates to Redis (AUTH); empty means no authentication.
	// It is never logged.
	Password string `hcl:"password,optional"`
	// Key is the list, channel or channel pattern to read.
	Key string `hcl:"key"`
	// DataType is "list" (take elements from the head of the list key),
	// "channel" (subscribe to the channel key) or "pattern_channel" (subscribe
	// to the channels matching the pattern key).
	DataType string `hcl:"data_type"`
	// BatchCount is the largest number of elements taken from the list, or
	// messages emitted, at once.
	BatchCount int `hcl:"batch_count,optional"`
	// Threads is the number of readers of a list running side by side, each
	// with its own processing list. Channels always have one subscriber.
	Threads int `hcl:"threads,optional"`
	// Timeout is the connect and request timeout, in seconds (decimals
	// allowed, as Logstash's :number: 0.5 is half a second).
	Timeout float64 `hcl:"timeout,optional"`
	// ConsumerID names this input's processing list, "<key>:processing:<id>"
	// (list mode). The default is "<hostname>:<pipeline>:<plugin id>". Two
	// running inputs must not share one.
	ConsumerID string `hcl:"consumer_id,optional"`
	// ListMode (not a Logstash option) is how a list is read without loss:
	// "processing_list" moves each batch into this input's own processing
	// list until it is acknowledged, so several inputs (consumer_id) drain one
	// list side by side; "exclusive" lets one input at a time read the list
	// (a lease on it), leaving each batch in the list until it is
	// acknowledged and then trimming it: about 4 times less Redis CPU per
	// element, but the other inputs of the list wait as standbys, and nothing
	// else may remove elements from the list. threads is ignored in this mode.
	ListMode string `hcl:"list_mode,optional"`
	// Cluster reads from a Redis Cluster, with host:port as its seed node
	// (see ClusterNodes).
	Cluster bool `hcl:"cluster,optional"`
	// ClusterNodes, when set, are the seed nodes ("host:port") of a Redis
	// Cluster to read from, instead of host and port; it implies cluster.
	ClusterNodes []string `hcl:"cluster_nodes,optional"`
	// The ssl_* options: TLS to the server.
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = "127.0.0.1"
	o.Port = 6379
	o.BatchCount = 125
	o.Threads = 1
	o.Timeout = 5
	o.ListMode = "processing_list"
	o.Client.Defaults()
}

// maxBatchCount bounds batch_count: the move script pushes at most this many
// values at once.
const maxBatchCount = 10000

// Validate checks the options.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.Host) == "" {
		return &engine.FieldError{Field: "host", Err: errors.New("must not be empty")}
	}
	if o.Port < 1 || o.Port > 65535 {
		return &engine.FieldError{Field: "port", Err: errors.New("must be between 1 and 65535")}
	}
	if o.DB < 0 {
		return &engine.FieldError{Field: "db", Err: errors.New("must not be negative")}
	}
	if strings.TrimSpace(o.Key) == "" {
		return &engine.FieldError{Field: "key", Err: errors.New("must not be empty")}
	}
	switch o.DataType {
	case "list", "channel", "pattern_channel":
	default:
		return &engine.FieldError{Field: "data_type", Err: fmt.Errorf("unsupported value %q: want \"list\", \"channel\" or \"pattern_channel\"", o.DataType)}
	}
	switch o.ListMode {
	case "processing_list", "exclusive":
	default:
		return &engine.FieldError{Field: "list_mode", Err: fmt.Errorf("unsupported value %q: want \"processing_list\" or \"exclusive\"", o.ListMode)}
	}
	if o.BatchCount < 1 || o.BatchCount > maxBatchCount {
		return &engine.FieldError{Field: "batch_count", Err: fmt.Errorf("must be between 1 and %d", maxBatchCount)}
	}
	if o.Threads < 1 {
		return &engine.FieldError{Field: "threads", Err: errors.New("must be at least 1")}
	}
	if o.Timeout <= 0 {
		return &engine.FieldError{Field: "timeout", Err: errors.New("must be more than 0 seconds")}
	}
	if o.Cluster || len(o.ClusterNodes) > 0 {
		if o.DB != 0 {
			return &engine.FieldError{Field: "db", Err: errors.New("must be 0 for a Redis Cluster (it has one database)")}
		}
		if strings.ContainsAny(o.Key, "{}") && !hasHashTag(o.Key) {
			return &engine.FieldError{Field: "key", Err: errors.New("holds { or } without a hash tag ({tag} with a non-empty tag): the processing list could not share its slot")}
		}
		for _, n := range o.ClusterNodes {
			if _, _, err := net.SplitHostPort(n); err != nil {
				return &engine.FieldError{Field: "cluster_nodes", Err: fmt.Errorf("%q is not host:port", n)}
			}
		}
	}
	return o.Client.Validate(o.Client.Enabled())
}

// hasHashTag reports whether key has a Redis Cluster hash tag: a "{" then a
// "}" after it with something between.
func hasHashTag(key string) bool {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(key[i+1:], '}')
	return j > 0
}

// slotted makes the processing list pk of key hash to key's slot: unchanged
// when key has a hash tag (pk starts with key), else key becomes pk's tag.
func slotted(key, pk string) string {
	if hasHashTag(key) {
		return pk
	}
	return "{" + key + "}" + strings.TrimPrefix(pk, key)
}

// Input is the redis input.
type Input struct {
	// testHook, set by tests only, is added to every client: a panic in it
	// is a panic in the code that sent the command.
	testHook goredis.Hook

	addr       string
	db         int
	password   string
	key        string
	dataType   string
	batchCount int
	threads    int
	timeout    time.Duration
	tls        *tls.Config // nil: plain TCP
	consumerID string
	exclusive  bool     // list_mode "exclusive"
	seeds      []string // Redis Cluster seed nodes; nil: one server
	codec      engine.Codec
	log        *slog.Logger

	// Tests shorten these.
	blockFor time.Duration // how long one BLMOVE waits
	ackWait  time.Duration // how long Run waits for acknowledgements at the end
}

var _ engine.Input = (*Input)(nil)

// New builds a redis input. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("redis: no codec")
	}
	id := o.ConsumerID
	if id == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		id = host + ":" + r.Pipeline + ":" + r.ID
	}
	in := &Input{
		addr:       net.JoinHostPort(strings.Trim(o.Host, "[]"), strconv.Itoa(o.Port)),
		db:         o.DB,
		password:   o.Password,
		key:        o.Key,
		dataType:   o.DataType,
		batchCount: o.BatchCount,
		threads:    o.Threads,
		timeout:    time.Duration(o.Timeout * float64(time.Second)),
		consumerID: id,
		exclusive:  o.ListMode == "exclusive",
		codec:      r.Codec,
		log:        r.Logger,
		blockFor:   time.Second,
		ackWait:    10 * time.Second,
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if len(o.ClusterNodes) > 0 {
		in.seeds = o.ClusterNodes
	} else if o.Cluster {
		in.seeds = []string{in.addr}
	}
	if in.seeds != nil {
		in.addr = "cluster " + strings.Join(in.seeds, ",")
	}
	if o.Client.Enabled() {
		cfg, err := o.Client.Config()
		if err != nil {
			return nil, err
		}
		if in.seeds != nil {
			in.tls = cfg // crypto/tls checks each node's host name
		} else {
			in.tls = tlsopt.ForHost(cfg, in.addr)
		}
	}
	return in, nil
}

// ProcessingKey is the processing list of thread n (of threads) for key and
// consumer id.
func ProcessingKey(key, consumerID string, n, threads int) string {
	if threads > 1 {
		consumerID += ":" + strconv.Itoa(n)
	}
	return key + ":processing:" + consumerID
}

func (in *Input) newClient() goredis.UniversalClient {
	c := in.dial()
	if in.testHook != nil {
		c.AddHook(in.testHook)
	}
	return c
}

func (in *Input) dial() goredis.UniversalClient {
	if in.seeds != nil {
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs:                 in.seeds,
			TLSConfig:             in.tls,
			Password:              in.password,
			Protocol:              2,
			DisableIdentity:       true,
			DialTimeout:           in.timeout,
			ReadTimeout:           in.timeout + in.blockFor,
			WriteTimeout:          in.timeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1,
			MaxRedirects:          8,
			DialerRetries:         1,
			PoolSize:              2,
		})
	}
	return goredis.NewClient(&goredis.Options{
		Addr:                  in.addr,
		TLSConfig:             in.tls,
		DB:                    in.db,
		Password:              in.password,
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           in.timeout,
		ReadTimeout:           in.timeout + in.blockFor, // blocking commands add their own wait
		WriteTimeout:          in.timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		PoolSize:              2, // the reader and the acknowledgements
	})
}

// Run reads until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	threads := in.threads
	if in.dataType != "list" {
		threads = 1 // more subscribers would receive every message again
	} else if in.exclusive {
		threads = 1 // one reader holds the list's lease
	}
	var wg sync.WaitGroup
	errs := make([]error, threads)
	for n := range threads {
		// A panic on one of these goroutines (the engine guards only Run's)
		// ends this input with an error, not the process.
		wg.Go(func() {
			errs[n] = engine.Guard(in.log, "redis reader", func() error {
				if in.dataType == "list" && in.exclusive {
					return in.runExclusive(ctx, emit)
				}
				if in.dataType == "list" {
					pk := ProcessingKey(in.key, in.consumerID, n, in.threads)
					if in.seeds != nil {
						pk = slotted(in.key, pk)
					}
					return in.runList(ctx, emit, pk)
				}
				return in.runChannel(ctx, emit)
			})
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// describe wraps a go-redis error with the host and db. It never includes the
// password.
func (in *Input) describe(err error) error {
	where := fmt.Sprintf("redis %s db %d key %q", in.addr, in.db, in.key)
	switch {
	case goredis.IsAuthError(err):
		if in.password == "" {
			return fmt.Errorf("%s: authentication required but no password is set: %w", where, err)
		}
		return fmt.Errorf("%s: authentication failed (wrong password?): %w", where, err)
	case goredis.HasErrorPrefix(err, "WRONGTYPE"):
		return fmt.Errorf("%s: the key holds a value that is not a list: %w", where, err)
	}
	return fmt.Errorf("%s: %w", where, tlsopt.Explain(err))
}

// backoff sleeps after a failure: 100 ms doubling up to 5 s. It returns false
// when ctx ended.
func backoff(ctx context.Context, attempt int) bool {
	d := 100 * time.Millisecond << min(attempt, 6)
	d = min(d, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// decode turns elements into events with the codec.
func (in *Input) decode(elems []string, out []*event.Event) []*event.Event {
	var r strings.Reader
	for _, s := range elems {
		out = in.decodeOne(&r, s, out)
	}
	return out
}

// decodeOne appends the events of one element. A codec that panics on it
// (it runs on goroutines the engine does not guard) fails that element like
// one that does not decode: logged, and what it decoded before is kept.
func (in *Input) decodeOne(r *strings.Reader, s string, out []*event.Event) (res []*event.Event) {
	defer func() {
		if perr := engine.Recovered(recover(), in.log, "redis codec"); perr != nil {
			res = out
		}
	}()
	if ad, ok := in.codec.(appendDecoder); ok {
		return ad.AppendDecoded(out, s)
	}
	r.Reset(s)
	dec := in.codec.NewDecoder(r)
	for {
		e, err := dec.Decode()
		if err != nil {
			if err != io.EOF {
				in.log.Warn("cannot decode redis element", "err", err)
			}
			break
		}
		out = append(out, e)
	}
	return out
}

// appendDecoder is a codec that decodes one element held as a string without
// a decoder and a reader (the json codec).
type appendDecoder interface {
	AppendDecoded(out []*event.Event, s string) []*event.Event
}

// minDecodeChunk is the fewest elements worth a goroutine of their own.
const minDecodeChunk = 128

// decodeBatch decodes a batch, in parallel chunks when it is big enough:
// decoding is most of this input's CPU and would otherwise hold one core
// while the pipeline's workers wait.
func (in *Input) decodeBatch(elems []string) []*event.Event {
	parts := min(runtime.GOMAXPROCS(0), len(elems)/minDecodeChunk)
	if parts <= 1 {
		return in.decode(elems, make([]*event.Event, 0, len(elems)))
	}
	chunks := make([][]*event.Event, parts)
	size := (len(elems) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := range parts {
		lo, hi := i*size, min((i+1)*size, len(elems))
		wg.Go(func() { chunks[i] = in.decode(elems[lo:hi], make([]*event.Event, 0, hi-lo)) })
	}
	wg.Wait()
	out := chunks[0]
	for _, c := range chunks[1:] {
		out = append(out, c...)
	}
	return out
}
