package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A lease makes sure that no two running inputs use one processing list (the
// same consumer_id): each would trim the other's elements. The owner key
// "<processing list>:owner" holds "<hostname>:<pid>:<nonce>" of the running
// input, with an expiry that the owner renews. An input that finds the key
// held waits for it to be released or to expire, logging an error, unless
// the holder is a process of this host that no longer exists (the engine was
// killed and restarted): then it takes over at once.

// leaseTTL is how long a lease lives without renewal; it is renewed every
// leaseTTL/3.
var leaseTTL = 15 * time.Second

// renewScript extends the lease when it is still ours, takes it again when it
// vanished (Redis restarted without persistence), and fails otherwise.
var renewScript = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`)

// releaseScript deletes KEYS[1] when it holds ARGV[1].
var releaseScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// errLeaseLost stops a list reader whose processing list another input took.
var errLeaseLost = errors.New("lost the processing list's lease to another input")

type lease struct {
	key   string
	token string
	host  string
}

func newLease(pk string) *lease {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	var nonce [6]byte
	_, _ = rand.Read(nonce[:])
	return &lease{
		key:   pk + ":owner",
		token: fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(nonce[:])),
		host:  host,
	}
}

// acquire takes the lease; held reports (once per holder) that another input
// holds it. It returns the error of a failed Redis call, or nil once acquired.
func (l *lease) acquire(ctx context.Context, c goredis.UniversalClient, held func(holder string)) error {
	ok, err := c.SetNX(ctx, l.key, l.token, leaseTTL).Result()
	if err != nil || ok {
		return err
	}
	holder, err := c.Get(ctx, l.key).Result()
	if errors.Is(err, goredis.Nil) {
		return l.acquire(ctx, c, held)
	}
	if err != nil {
		return err
	}
	if l.deadLocal(holder) {
		// The previous run on this host died: take over.
		if err := releaseScript.Run(ctx, c, []string{l.key}, holder).Err(); err != nil {
			return err
		}
		return l.acquire(ctx, c, held)
	}
	held(holder)
	return errLeaseHeld
}

var errLeaseHeld = errors.New("held by another input")

// deadLocal reports whether holder names a process of this host that is gone.
func (l *lease) deadLocal(holder string) bool {
	rest, ok := strings.CutPrefix(holder, l.host+":")
	if !ok {
		return false
	}
	pidStr, _, ok := strings.Cut(rest, ":")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false // another input of this process: alive
	}
	return processGone(pid)
}

// renew extends the lease; errLeaseLost when another input holds it now.
func (l *lease) renew(ctx context.Context, c goredis.UniversalClient) error {
	n, err := renewScript.Run(ctx, c, []string{l.key}, l.token, leaseTTL.Milliseconds()).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return errLeaseLost
	}
	return nil
}

// release gives the lease up if it is still ours.
func (l *lease) release(c goredis.UniversalClient) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = releaseScript.Run(ctx, c, []string{l.key}, l.token).Err()
}
