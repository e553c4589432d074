// Package rabbitmqtest runs a real RabbitMQ broker (Debian's
// rabbitmq-server) for tests: one broker per test binary, started on first
// use and shared by its tests, stopped by Main after they ran.
//
// The broker is isolated from any other on the machine: its own node name
// (unique per start), its own epmd on a free loopback port (ERL_EPMD_PORT;
// the broker starts none), free loopback ports for AMQP
// (RABBITMQ_NODE_PORT) and Erlang distribution (RABBITMQ_DIST_PORT), its
// database and logs in a temporary directory (RABBITMQ_MNESIA_BASE,
// RABBITMQ_LOG_BASE), an empty configuration, no plugins, and an Erlang
// cookie written there with mode 0400 (HOME points at it, so no cookie of
// the machine is read or written). Startup takes seconds (tens of seconds
// on a loaded machine): Shared waits up to two minutes for the broker to
// accept an AMQP connection.
//
// Without rabbitmq-server the tests are skipped, except under CI (CI=true),
// where that is a failure: .ci/run installs it. RABBITMQ_SERVER_BIN names
// the server script when it is not at Debian's place.
package rabbitmqtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// certFiles are the PEM files of a throwaway CA and the broker's
// certificate and key.
type certFiles struct{ ca, cert, key string }

// writeCerts makes a CA and a server certificate for 127.0.0.1 and
// localhost, valid for a day, as PEM files in dir.
func writeCerts(dir string) (certFiles, error) {
	var f certFiles
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return f, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rabbitmqtest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return f, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return f, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return f, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return f, err
	}
	f = certFiles{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "server.pem"), key: filepath.Join(dir, "server.key")}
	for _, w := range []struct {
		path, typ string
		der       []byte
	}{{f.ca, "CERTIFICATE", caDER}, {f.cert, "CERTIFICATE", der}, {f.key, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(w.path, pem.EncodeToMemory(&pem.Block{Type: w.typ, Bytes: w.der}), 0o600); err != nil {
			return f, err
		}
	}
	return f, nil
}

// StartTimeout bounds the wait for the broker to accept connections.
const StartTimeout = 2 * time.Minute

// Broker is a running rabbitmq-server.
type Broker struct {
	bin, epmdBin string
	dir          string
	node         string
	port         int // AMQP
	tlsPort      int // AMQP over TLS
	distPort     int
	epmdPort     int
	caFile       string

	mu   sync.Mutex
	epmd *servertest.Process
	proc *servertest.Process
	last *servertest.Process
}

var (
	once    sync.Once
	shared  *Broker
	initErr error
	missing string
)

func find() (bin, epmd string) {
	bin = servertest.Find("RABBITMQ_SERVER_BIN", "/usr/lib/rabbitmq/bin/rabbitmq-server")
	epmd = servertest.Find("", "/usr/bin/epmd", "epmd")
	return bin, epmd
}

// Shared returns the broker of this test binary, starting it on first use.
// Without rabbitmq-server t is skipped (failed under CI); a broker that does
// not start fails t.
func Shared(t testing.TB) *Broker {
	t.Helper()
	once.Do(func() {
		bin, epmd := find()
		if bin == "" || epmd == "" {
			missing = "rabbitmq-server not found (set RABBITMQ_SERVER_BIN; .ci/run installs Debian's rabbitmq-server)"
			return
		}
		shared, initErr = Start(bin, epmd)
	})
	if missing != "" {
		servertest.Missing(t, "%s", missing)
	}
	if initErr != nil {
		t.Fatalf("rabbitmq-server: %v", initErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("rabbitmq-server log:\n%s", servertest.Tail(shared.Log(), 4000))
		}
	})
	return shared
}

// Main runs the tests and then stops the shared broker, if one started.
// A package's TestMain calls os.Exit(rabbitmqtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Stop()
		shared.stopEpmd()
		_ = os.RemoveAll(shared.dir)
	}
	return code
}

// Start starts a broker with the server script bin and the epmd program.
func Start(bin, epmdBin string) (*Broker, error) {
	dir, err := os.MkdirTemp("", "rabbitmqtest-")
	if err != nil {
		return nil, err
	}
	b := &Broker{bin: bin, epmdBin: epmdBin, dir: dir}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	b.node = fmt.Sprintf("pipelinetest-%d-%s@localhost", os.Getpid(), hex.EncodeToString(suffix))
	cookie := make([]byte, 16)
	_, _ = rand.Read(cookie)
	for _, f := range []struct {
		name, body string
		mode       os.FileMode
	}{
		{"home/.erlang.cookie", hex.EncodeToString(cookie), 0o400},
		{"rabbitmq.conf", "", 0o644}, // written below, once the ports are known
		{"rabbitmq-env.conf", "", 0o644},
		{"enabled_plugins", "[].\n", 0o644},
	} {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(f.body), f.mode); err != nil {
			return nil, err
		}
	}
	for _, p := range []*int{&b.port, &b.tlsPort, &b.distPort, &b.epmdPort} {
		if *p, err = servertest.FreePort(); err != nil {
			return nil, err
		}
	}
	certs, err := writeCerts(filepath.Join(dir, "tls"))
	if err != nil {
		return nil, err
	}
	b.caFile = certs.ca
	conf := fmt.Sprintf("listeners.ssl.1 = 127.0.0.1:%d\nssl_options.cacertfile = %s\nssl_options.certfile = %s\nssl_options.keyfile = %s\nssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = false\n",
		b.tlsPort, certs.ca, certs.cert, certs.key)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := b.startEpmd(); err != nil {
		return nil, err
	}
	if err := b.start(); err != nil {
		b.stopEpmd()
		return nil, err
	}
	return b, nil
}

func (b *Broker) startEpmd() error {
	cmd := exec.Command(b.epmdBin, "-port", strconv.Itoa(b.epmdPort), "-address", "127.0.0.1")
	p, err := servertest.StartProcess(cmd, 16<<10)
	if err != nil {
		return err
	}
	b.epmd = p
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(b.epmdPort))
	return p.WaitReady(func() bool { return servertest.Dials(addr) }, 10*time.Second, 20*time.Millisecond)
}

func (b *Broker) stopEpmd() {
	if b.epmd != nil {
		b.epmd.Stop(syscall.SIGTERM, 5*time.Second)
	}
}

func (b *Broker) env() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(b.dir, "home"),
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8",
		"ERL_EPMD_PORT=" + strconv.Itoa(b.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_NODENAME=" + b.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT=" + strconv.Itoa(b.port),
		"RABBITMQ_DIST_PORT=" + strconv.Itoa(b.distPort),
		"RABBITMQ_MNESIA_BASE=" + filepath.Join(b.dir, "mnesia"),
		"RABBITMQ_LOG_BASE=" + filepath.Join(b.dir, "log"),
		"RABBITMQ_CONFIG_FILE=" + filepath.Join(b.dir, "rabbitmq"),
		"RABBITMQ_CONF_ENV_FILE=" + filepath.Join(b.dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE=" + filepath.Join(b.dir, "enabled_plugins"),
		"RABBITMQ_PID_FILE=" + filepath.Join(b.dir, "rabbitmq.pid"),
		// Run the Erlang VM in place of the script (no shell in between),
		// so signals reach it and it dies with the test binary; -noinput
		// keeps it from reading standard input.
		"RABBITMQ_ALLOW_INPUT=1",
		"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-noinput -start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
	}
}

func (b *Broker) start() error {
	cmd := exec.Command(b.bin)
	cmd.Env = b.env()
	cmd.Dir = b.dir
	p, err := servertest.StartProcess(cmd, 256<<10)
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.last = p
	b.mu.Unlock()
	if err := p.WaitReady(b.ready, StartTimeout, 250*time.Millisecond); err != nil {
		return fmt.Errorf("rabbitmq-server %w", err)
	}
	b.mu.Lock()
	b.proc = p
	b.mu.Unlock()
	return nil
}

// ready reports whether the broker accepts an AMQP connection.
func (b *Broker) ready() bool {
	c, err := amqp.DialConfig(b.URL(), amqp.Config{Dial: amqp.DefaultDial(2 * time.Second)})
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// Addr is the AMQP listener's "127.0.0.1:port".
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port is the AMQP port.
func (b *Broker) Port() int { return b.port }

// TLSPort is the port of AMQP over TLS. The broker's certificate (for
// 127.0.0.1 and localhost) is signed by the CA of CAFile; client
// certificates are verified when given, not required.
func (b *Broker) TLSPort() int { return b.tlsPort }

// CAFile is the PEM file of the CA that signed the broker's certificate.
func (b *Broker) CAFile() string { return b.caFile }

// URL is the AMQP URL of the broker's default vhost as guest.
func (b *Broker) URL() string { return "amqp://guest:guest@" + b.Addr() + "/" }

// Log returns what the latest broker process printed.
func (b *Broker) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.last == nil {
		return ""
	}
	return b.last.Log()
}

// Stop stops the broker (SIGTERM: a clean shutdown; SIGKILL after 30 s).
func (b *Broker) Stop() {
	b.mu.Lock()
	p := b.proc
	b.proc = nil
	b.mu.Unlock()
	if p != nil {
		p.Stop(syscall.SIGTERM, 30*time.Second)
	}
}

// Restart stops the broker and starts it again on the same ports with the
// same database (durable queues and persistent messages survive).
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	b.Stop()
	deadline := time.Now().Add(StartTimeout)
	for {
		err := b.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rabbitmq-server: restart: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Dial connects to the broker as guest, for a test's own publishing and
// checking; the connection is closed when t ends.
func (b *Broker) Dial(t testing.TB) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(b.URL())
	if err != nil {
		t.Fatalf("rabbitmq: dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Channel opens a channel on a new connection, closed when t ends.
func (b *Broker) Channel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch, err := b.Dial(t).Channel()
	if err != nil {
		t.Fatalf("rabbitmq: channel: %v", err)
	}
	return ch
}
