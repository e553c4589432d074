// Package redis implements the redis output, like Logstash's: it pushes each
// event, encoded by its codec (json by default: one JSON document per element,
// without [@metadata]), to the end of a Redis list with RPUSH (data_type
// "list") or publishes it on a channel with PUBLISH (data_type "channel").
//
// key is a sprintf template rendered per event, so fields can choose the list:
// "logs-%{[service][name]}". Every Write is batched on the wire whatever batch
// says: the batch's events are grouped by rendered key, keeping their order
// within each key, and each key gets one RPUSH carrying all its values; the
// RPUSHes of all keys go in one pipelined round trip. In channel mode the
// PUBLISHes of a batch go in one pipelined round trip, in order. batch,
// batch_events and batch_timeout are therefore accepted for compatibility and
// not used (the pipeline batch size bounds a Write).
//
// host lists servers as "host" or "host:port" (port is the default port).
// Connect tries them in order (after a random rotation when shuffle_hosts is
// true, Logstash's default) and uses the first that answers PING; when it fails,
// the engine connects again, trying the list anew. Reconnects follow the
// engine's capped exponential backoff; reconnect_interval is accepted and not
// used. timeout bounds connecting and each request.
//
// With congestion_threshold above 0, before pushing to a key the output checks
// its length (LLEN) at most every congestion_interval seconds, and while it is
// above the threshold it waits congestion_interval seconds and checks again,
// holding the batch (so the pipeline back-pressures its inputs) until consumers
// have drained the list.
//
// Failure semantics: Write returns nil only after Redis acknowledged every
// RPUSH or PUBLISH. A connection failure (Redis down, restarted, timeout)
// returns an error wrapping engine.ErrNotConnected, naming the host and db: the
// engine reconnects and retries the batch, so nothing is dropped, and the
// events of a batch that Redis applied before the connection broke may be
// pushed twice (at-least-once). A key holding another type (WRONGTYPE) or any
// other Redis error is returned as a clear error naming the key, host and db;
// the engine retries the batch with backoff and the pipeline waits until the
// operator fixes the key (as Logstash does, events are never dropped). When
// only some keys of a batch fail, only their events are retried. A wrong
// password is an error naming the host and db, retried the same way. The
// password is never logged nor put into errors. A PUBLISH to a channel without
// subscribers succeeds: the message is gone, as in Redis.
//
// # Redis Cluster
//
// With cluster => true the hosts are seed nodes of a Redis Cluster: the
// output learns the cluster's slots from them and sends each key's RPUSH to
// the master holding its slot (go-redis's cluster client: one pipelined
// round trip per master, MOVED and ASK redirections followed). Keys with a
// hash tag ("{logs}-%{type}") keep the lists of one batch on one slot, so a
// batch is one round trip to one master. A master that fails makes the
// batch fail; the engine connects again (the slots are learnt anew, a
// promoted replica now holds them) and pushes the batch again. Redis
// replicates asynchronously, so a master killed right after acknowledging
// a push may take it with it: wait_replicas => 1 makes the output wait
// (WAIT, up to timeout) until that many replicas of each master written to
// have the batch before it counts as delivered, and a batch not replicated in time
// is pushed again (duplicates possible, nothing lost). A master with fewer
// connected replicas than wait_replicas (a replica died, or the master is
// one promoted by a failover) needs only those it has, with a warning:
// until the operator adds a replica, that master's death loses what it
// acknowledged last. db must be 0 (Redis
// Cluster has one database).
//
// With ssl_enabled the connection uses TLS: the server's certificate is checked
// against ssl_certificate_authorities (or the system roots) and the host name
// dialled, unless ssl_verification_mode is "none"; ssl_certificate and ssl_key
// are presented to servers that require client certificates.
package redis

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/redislog"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterOutput("redis", New, engine.WithDefaultCodec("json"))
	redislog.Install()
}

// Options configures the redis output.
type Options struct {
	// Host is the Redis server, or a list of them, each "host" or "host:port"
	// (without a port, port applies). Connect uses the first that answers.
	Host engine.StringList `hcl:"host,optional"`
	// Port is the port of hosts given without one.
	Port int `hcl:"port,optional"`
	// DB is the Redis database number.
	DB int `hcl:"db,optional"`
	// Password authenticates to Redis (AUTH); empty means no authentication.
	// It is never logged.
	Password string `hcl:"password,optional"`
	// Key is the list or channel name, a sprintf template rendered per event,
	// such as "logstash-%{type}".
	Key string `hcl:"key"`
	// DataType is "list" (RPUSH to the list key) or "channel" (PUBLISH on the
	// channel key).
	DataType string `hcl:"data_type"`
	// Batch is accepted for compatibility: every Write is sent as one RPUSH per
	// key, in one round trip, whatever its value.
	Batch bool `hcl:"batch,optional"`
	// BatchEvents is accepted for compatibility and not used: the pipeline batch
	// size bounds the values of one RPUSH.
	BatchEvents int `hcl:"batch_events,optional"`
	// BatchTimeout is accepted for compatibility and not used: a batch is sent
	// as soon as the pipeline hands it over.
	BatchTimeout float64 `hcl:"batch_timeout,optional"`
	// CongestionThreshold, when above 0, is the longest a list may be: while a
	// key's list is longer, the batch is held (list mode only).
	CongestionThreshold int `hcl:"congestion_threshold,optional"`
	// CongestionInterval is how often, in seconds, a key's length is checked
	// against congestion_threshold, and how long to wait before checking again
	// while it is above it.
	CongestionInterval float64 `hcl:"congestion_interval,optional"`
	// ReconnectInterval is accepted for compatibility and not used: the engine
	// reconnects with capped exponential backoff.
	ReconnectInterval float64 `hcl:"reconnect_interval,optional"`
	// ShuffleHosts starts each connection attempt at a random host of the list
	// instead of the first.
	ShuffleHosts bool `hcl:"shuffle_hosts,optional"`
	// Timeout is the connect and request timeout, in seconds (decimals
	// allowed, as Logstash's :number: 0.5 is half a second).
	Timeout float64 `hcl:"timeout,optional"`
	// Cluster treats the hosts as seed nodes of a Redis Cluster (see the
	// package documentation).
	Cluster bool `hcl:"cluster,optional"`
	// WaitReplicas, with cluster, is how many replicas of each master must
	// have a batch before it counts as delivered (Redis's WAIT, bounded by
	// timeout); 0 does not wait.
	WaitReplicas int `hcl:"wait_replicas,optional"`
	// The ssl_* options: TLS to the server.
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = engine.StringList{"127.0.0.1"}
	o.Port = 6379
	o.BatchEvents = 50
	o.BatchTimeout = 5
	o.CongestionInterval = 1
	o.ReconnectInterval = 1
	o.ShuffleHosts = true
	o.Timeout = 5
	o.Client.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if _, err := parseHosts(o.Host, o.Port); err != nil {
		return err
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
	if _, err := event.ParseTemplate(o.Key); err != nil {
		return &engine.FieldError{Field: "key", Err: err}
	}
	switch o.DataType {
	case "list", "channel":
	default:
		return &engine.FieldError{Field: "data_type", Err: fmt.Errorf("unsupported value %q: want \"list\" or \"channel\"", o.DataType)}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"batch_events", float64(o.BatchEvents)}, {"batch_timeout", o.BatchTimeout},
		{"congestion_threshold", float64(o.CongestionThreshold)}, {"congestion_interval", o.CongestionInterval},
		{"reconnect_interval", o.ReconnectInterval},
	} {
		if f.v < 0 {
			return &engine.FieldError{Field: f.name, Err: errors.New("must not be negative")}
		}
	}
	if o.Timeout <= 0 {
		return &engine.FieldError{Field: "timeout", Err: errors.New("must be more than 0 seconds")}
	}
	if o.Cluster && o.DB != 0 {
		return &engine.FieldError{Field: "db", Err: errors.New("must be 0 with cluster => true (Redis Cluster has one database)")}
	}
	if o.WaitReplicas < 0 {
		return &engine.FieldError{Field: "wait_replicas", Err: errors.New("must not be negative")}
	}
	if o.WaitReplicas > 0 && !o.Cluster {
		return &engine.FieldError{Field: "wait_replicas", Err: errors.New("is for cluster => true")}
	}
	return o.Client.Validate(o.Client.Enabled())
}

// parseHosts turns the host option into "host:port" addresses.
func parseHosts(items engine.StringList, port int) ([]string, error) {
	bad := func(msg string) error {
		return &engine.FieldError{Field: "host", Err: errors.New(msg)}
	}
	if len(items) == 0 {
		return nil, bad("list at least one host")
	}
	addrs := make([]string, 0, len(items))
	for _, e := range items {
		h := strings.TrimSpace(e)
		if h == "" {
			return nil, bad("a host must not be empty")
		}
		if host, p, err := net.SplitHostPort(h); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return nil, bad(fmt.Sprintf("%q: bad port", h))
			}
			addrs = append(addrs, net.JoinHostPort(host, p))
			continue
		}
		addrs = append(addrs, net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(port)))
	}
	return addrs, nil
}

// Output is the redis output.
type Output struct {
	addrs     []string
	db        int
	password  string
	key       event.Template
	fixedKey  string // the key when it has no references
	channel   bool
	shuffle   bool
	timeout   time.Duration
	tls       *tls.Config // nil: plain TCP
	threshold int64
	interval  time.Duration
	log       *slog.Logger

	cluster      bool
	waitReplicas int
	// warned are the masters already logged as having fewer replicas than
	// wait_replicas.
	warned map[string]bool

	client goredis.UniversalClient
	// clusterClient is client in cluster mode.
	clusterClient *goredis.ClusterClient
	addr          string // the connected host, or the seed nodes

	// Per-Write state, reused.
	buf     bytes.Buffer
	enc     engine.Encoder
	ends    []int // end offset in buf of each event's encoding
	groups  map[string]*group
	order   []*group // groups in order of first event
	checked map[string]time.Time
}

// group is the events of one Write going to one key.
type group struct {
	key  string
	idx  []int // event indexes, in order
	args []any // the encoded values
}

var _ engine.Output = (*Output)(nil)

// New builds a redis output. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, errors.New("redis: no codec")
	}
	addrs, _ := parseHosts(o.Host, o.Port)
	tmpl, _ := event.ParseTemplate(o.Key)
	out := &Output{
		addrs:     addrs,
		db:        o.DB,
		password:  o.Password,
		key:       tmpl,
		channel:   o.DataType == "channel",
		shuffle:   o.ShuffleHosts,
		timeout:   time.Duration(o.Timeout * float64(time.Second)),
		threshold: int64(o.CongestionThreshold),
		interval:  time.Duration(o.CongestionInterval * float64(time.Second)),
		log:       r.Logger,
		groups:    map[string]*group{},
		checked:   map[string]time.Time{},

		warned:       map[string]bool{},
		cluster:      o.Cluster,
		waitReplicas: o.WaitReplicas,
	}
	if tmpl.IsConstant() {
		out.fixedKey = o.Key
	}
	if o.Client.Enabled() {
		var err error
		if out.tls, err = o.Client.Config(); err != nil {
			return nil, err
		}
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	out.enc = r.Codec.NewEncoder(&out.buf)
	return out, nil
}

// Connect connects to the first host that answers PING, or, with cluster,
// learns the cluster from the seed nodes.
func (o *Output) Connect(ctx context.Context) error {
	o.closeClient()
	if o.cluster {
		return o.connectCluster(ctx)
	}
	start := 0
	if o.shuffle && len(o.addrs) > 1 {
		start = rand.IntN(len(o.addrs))
	}
	var errs []error
	for i := range o.addrs {
		addr := o.addrs[(start+i)%len(o.addrs)]
		c := goredis.NewClient(&goredis.Options{
			Addr:                  addr,
			TLSConfig:             tlsopt.ForHost(o.tls, addr),
			DB:                    o.db,
			Password:              o.password,
			Protocol:              2,
			DisableIdentity:       true,
			DialTimeout:           o.timeout,
			ReadTimeout:           o.timeout,
			WriteTimeout:          o.timeout,
			ContextTimeoutEnabled: true,
			MaxRetries:            -1, // the engine retries
			DialerRetries:         1,
			PoolSize:              1, // Write is never concurrent
		})
		err := c.Ping(ctx).Err()
		if err == nil {
			o.client, o.addr = c, addr
			o.log.Info("connected to redis", "host", addr, "db", o.db)
			return nil
		}
		_ = c.Close()
		errs = append(errs, o.describe(addr, "", err))
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// connectCluster builds a cluster client on the seed nodes and checks it
// reaches the cluster.
func (o *Output) connectCluster(ctx context.Context) error {
	c := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs:                 o.addrs,
		TLSConfig:             o.tls, // crypto/tls checks each node's host name
		Password:              o.password,
		Protocol:              2,
		DisableIdentity:       true,
		DialTimeout:           o.timeout,
		ReadTimeout:           o.timeout,
		WriteTimeout:          o.timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1, // the engine retries
		MaxRedirects:          8,
		DialerRetries:         1,
		PoolSize:              1, // per node: WAIT follows the writes on the same connection
	})
	seeds := strings.Join(o.addrs, ",")
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return o.describe("cluster "+seeds, "", err)
	}
	o.client, o.clusterClient, o.addr = c, c, "cluster "+seeds
	o.log.Info("connected to redis cluster", "seeds", seeds)
	return nil
}

// replicated waits until wait_replicas replicas of each master written to
// have what this output wrote there (WAIT on that master's one connection).
func (o *Output) replicated(ctx context.Context) error {
	if o.clusterClient == nil || o.waitReplicas == 0 {
		return nil
	}
	masters := map[string]*goredis.Client{}
	for _, g := range o.order {
		c, err := o.clusterClient.MasterForKey(ctx, g.key)
		if err != nil {
			return o.describe(o.addr, g.key, err)
		}
		masters[c.Options().Addr] = c
	}
	for addr, c := range masters {
		want := o.waitReplicas
		// A master with fewer replicas than asked (its replica died, or it
		// is one promoted in a failover) cannot do better: what its
		// replicas have is enough, logged once.
		if have, ok := connectedReplicas(ctx, c); ok && have < want {
			if !o.warned[addr] {
				if len(o.warned) > 1024 {
					clear(o.warned)
				}
				o.warned[addr] = true
				o.log.Warn("redis cluster master has fewer replicas than wait_replicas; waiting for those it has", "master", addr, "replicas", have, "wait_replicas", want)
			}
			want = have
		}
		if err := o.wait(ctx, c, want); err != nil {
			return err
		}
	}
	return nil
}

// wait runs WAIT want on master c's connection.
func (o *Output) wait(ctx context.Context, c *goredis.Client, want int) error {
	if want == 0 {
		return nil
	}
	n, err := c.Wait(ctx, want, o.timeout).Result()
	if err != nil {
		return o.describe(c.Options().Addr, "", err)
	}
	if n < int64(want) {
		return fmt.Errorf("redis %s: %d of %d replicas have the batch after %s; pushing it again", c.Options().Addr, n, want, o.timeout)
	}
	return nil
}

// connectedReplicas reads connected_slaves from a master's INFO
// replication.
func connectedReplicas(ctx context.Context, c *goredis.Client) (int, bool) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil
		}
	}
	return 0, false
}

// describe wraps a go-redis error with the host, db and key; connection
// failures wrap engine.ErrNotConnected. It never includes the password.
func (o *Output) describe(addr, key string, err error) error {
	where := fmt.Sprintf("redis %s db %d", addr, o.db)
	if key != "" {
		where += fmt.Sprintf(" key %q", key)
	}
	switch {
	case goredis.IsAuthError(err):
		if o.password == "" {
			return fmt.Errorf("%s: authentication required but no password is set: %w", where, err)
		}
		return fmt.Errorf("%s: authentication failed (wrong password?): %w", where, err)
	case goredis.HasErrorPrefix(err, "WRONGTYPE"):
		return fmt.Errorf("%s: the key holds a value that is not a list; delete or rename it, or change key: %w", where, err)
	case isConnError(err):
		return fmt.Errorf("%s: %w: %w", where, engine.ErrNotConnected, tlsopt.Explain(err))
	}
	return fmt.Errorf("%s: %w", where, tlsopt.Explain(err))
}

// isConnError reports whether err is a connection failure rather than an
// error answered by Redis or a cancelled context.
func isConnError(err error) bool {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		// LOADING, a read-only replica, and so on: another connection may do.
		// A cluster failing over (CLUSTERDOWN, TRYAGAIN, redirections
		// exhausted): the slots are learnt anew when connecting again.
		return goredis.IsLoadingError(err) || goredis.IsReadOnlyError(err) || goredis.IsMasterDownError(err) ||
			goredis.HasErrorPrefix(err, "CLUSTERDOWN") || goredis.HasErrorPrefix(err, "TRYAGAIN") || goredis.HasErrorPrefix(err, "MOVED") || goredis.HasErrorPrefix(err, "ASK")
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return true // net errors, io.EOF, timeouts, a closed client
}

// Write pushes or publishes the events, in one round trip.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.client == nil {
		return fmt.Errorf("redis: %w", engine.ErrNotConnected)
	}
	if err := o.encode(events); err != nil {
		return err
	}
	if o.channel {
		return o.publish(ctx, events)
	}
	if o.threshold > 0 {
		for _, g := range o.order {
			if err := o.congestion(ctx, g.key); err != nil {
				return err
			}
		}
	}
	cmds := make([]*goredis.IntCmd, len(o.order))
	_, err := o.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for i, g := range o.order {
			cmds[i] = p.RPush(ctx, g.key, g.args...)
		}
		return nil
	})
	if err == nil {
		return o.replicated(ctx)
	}
	var failed map[int]error
	var first error
	for i, c := range cmds {
		cerr := c.Err()
		if cerr == nil {
			continue
		}
		g := o.order[i]
		werr := o.describe(o.addr, g.key, cerr)
		if errors.Is(werr, engine.ErrNotConnected) || ctx.Err() != nil {
			return werr // the whole batch again, after reconnecting
		}
		if first == nil {
			first = werr
			failed = map[int]error{}
		}
		for _, idx := range g.idx {
			failed[idx] = werr
		}
	}
	if first == nil {
		return o.describe(o.addr, "", err)
	}
	if len(failed) == len(events) {
		return first
	}
	return &engine.BatchError{Failed: failed}
}

// encode encodes the events into o.buf and groups them by key.
func (o *Output) encode(events []*event.Event) error {
	o.buf.Reset()
	o.ends = o.ends[:0]
	for _, e := range events {
		if err := o.enc.Encode(e); err != nil {
			return engine.Permanent(fmt.Errorf("redis: encode: %w", err))
		}
		o.ends = append(o.ends, o.buf.Len())
	}
	if o.channel {
		return nil // publish renders each key as it goes, in event order
	}
	for _, g := range o.order {
		g.idx = g.idx[:0]
		clear(g.args)
		g.args = g.args[:0]
	}
	o.order = o.order[:0]
	if len(o.groups) > 1024 { // do not keep keys of long-gone events forever
		clear(o.groups)
	}
	b := o.buf.Bytes()
	start := 0
	for i, e := range events {
		key := o.fixedKey
		if key == "" {
			key = o.key.Render(e)
		}
		g := o.groups[key]
		if g == nil {
			g = &group{key: key}
			o.groups[key] = g
		}
		if len(g.idx) == 0 {
			o.order = append(o.order, g)
		}
		g.idx = append(g.idx, i)
		g.args = append(g.args, b[start:o.ends[i]:o.ends[i]])
		start = o.ends[i]
	}
	return nil
}

// publish sends every event to its channel, in order, in one round trip.
func (o *Output) publish(ctx context.Context, events []*event.Event) error {
	b := o.buf.Bytes()
	_, err := o.client.Pipelined(ctx, func(p goredis.Pipeliner) error {
		start := 0
		for i, e := range events {
			key := o.fixedKey
			if key == "" {
				key = o.key.Render(e)
			}
			p.Publish(ctx, key, b[start:o.ends[i]])
			start = o.ends[i]
		}
		return nil
	})
	if err != nil {
		return o.describe(o.addr, "", err)
	}
	return nil
}

// congestion waits while the list key is longer than the threshold, checking
// at most every congestion interval.
func (o *Output) congestion(ctx context.Context, key string) error {
	if last, ok := o.checked[key]; ok && time.Since(last) < o.interval {
		return nil
	}
	warned := false
	for {
		n, err := o.client.LLen(ctx, key).Result()
		if err != nil {
			return o.describe(o.addr, key, err)
		}
		if n <= o.threshold {
			o.checked[key] = time.Now()
			if len(o.checked) > 1024 {
				clear(o.checked)
			}
			return nil
		}
		if !warned {
			o.log.Warn("redis list is over congestion_threshold, holding the batch until it is drained",
				"host", o.addr, "db", o.db, "key", key, "length", n, "congestion_threshold", o.threshold)
			warned = true
		}
		wait := o.interval
		if wait <= 0 {
			wait = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Close closes the connection.
func (o *Output) Close(context.Context) error {
	o.closeClient()
	return nil
}

func (o *Output) closeClient() {
	if o.client != nil {
		_ = o.client.Close()
		o.client, o.clusterClient = nil, nil
	}
}
