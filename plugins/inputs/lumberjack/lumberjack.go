// Package lumberjack implements the lumberjack input, like Logstash's: a
// lumberjack v1 server over TLS, the protocol of logstash-forwarder.
//
// TLS is required, as in Logstash: ssl_certificate and ssl_key must be
// given: a missing file fails check, as logstash -t; one that cannot be
// read or parsed refuses to start (ssl_key_passphrase decrypts a key in
// OpenSSL's legacy encrypted PEM format). Each data frame's key/value pairs become the event's fields;
// the line field is decoded by the codec (plain by default) into message,
// and the other pairs (file, host, offset …) are set over the decoded
// event.
//
// The server is the beats input's (one implementation for both
// protocols): each window becomes one engine batch and is acknowledged to
// the sender only after the pipeline acknowledged every event; a window
// beyond the beats input's default budgets (frame, window and pending
// bytes, window size, connections) closes its connection before it is
// acknowledged. The ACK carries the window's event count, which is its last
// sequence number when the sender numbers each window's frames from 1, as
// go-lumber's v1 protocol does. Lumberjack v1 has no keepalive: a window the pipeline holds
// longer than the sender's timeout is resent by it on a new connection.
// congestion_threshold bounds, in seconds, the time to receive one window
// once it started and to write its ACK.
//
// Failure semantics: Run returns an error when the port cannot be bound or
// the pipeline was aborted; a failing connection never ends Run.
package lumberjack

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/inputs/beats"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterInput("lumberjack", New, engine.WithDefaultCodec("plain"))
}

// Options configures the lumberjack input. Names and defaults are
// Logstash's.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the TCP port to listen on.
	Port int `hcl:"port"`
	tlsopt.LumberjackServer
	// CongestionThreshold is how many seconds a connection may take to
	// send one window once it started, or to take its ACK.
	CongestionThreshold int `hcl:"congestion_threshold,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.CongestionThreshold = 5
}

// Validate checks the options. It reads no file.
func (o *Options) Validate() error {
	if o.Port < 0 || o.Port > 65535 {
		return &engine.FieldError{Field: "port", Err: errors.New("must be between 0 and 65535")}
	}
	if o.SSLCertificate == "" {
		return &engine.FieldError{Field: "ssl_certificate", Err: errors.New("required: the lumberjack input serves TLS only")}
	}
	if o.SSLKey == "" {
		return &engine.FieldError{Field: "ssl_key", Err: errors.New("required: the lumberjack input serves TLS only")}
	}
	if o.CongestionThreshold < 1 {
		return &engine.FieldError{Field: "congestion_threshold", Err: errors.New("must be at least 1")}
	}
	return nil
}

// New builds a lumberjack input; it loads the certificate and key but opens
// no socket.
func New(o Options, r engine.Resources) (*beats.Input, error) {
	cert, err := loadKeyPair(o.SSLCertificate, o.SSLKey, o.SSLKeyPassphrase)
	if err != nil {
		// Logstash validates both options as :path, so a file that is not
		// there fails its configuration test (logstash -t) as it fails
		// check; it reads them in register, so a file that is there but
		// unreadable or not a certificate is found when the input starts.
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, engine.AtStart(err)
	}
	return beats.NewV1(beats.V1Config{
		Addr:    net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		TLS:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Timeout: time.Duration(o.CongestionThreshold) * time.Second,
	}, r)
}

// MaxPEMBytes is the largest certificate or key file read.
const MaxPEMBytes = 1 << 20

func readPEM(option, path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &engine.FieldError{Field: option, Err: fmt.Errorf("the file is missing or unreadable: %w", err)}
	}
	if st.Size() > MaxPEMBytes {
		return nil, &engine.FieldError{Field: option, Err: fmt.Errorf("%s is over %d bytes", path, MaxPEMBytes)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &engine.FieldError{Field: option, Err: err}
	}
	return b, nil
}

func loadKeyPair(certFile, keyFile, passphrase string) (tls.Certificate, error) {
	certPEM, err := readPEM("ssl_certificate", certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEM("ssl_key", keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	if passphrase != "" {
		block, _ := pem.Decode(keyPEM)
		//lint:ignore SA1019 Logstash's encrypted keys are OpenSSL's legacy PEM encryption.
		if block != nil && x509.IsEncryptedPEMBlock(block) { //nolint:staticcheck
			der, err := x509.DecryptPEMBlock(block, []byte(passphrase)) //nolint:staticcheck
			if err != nil {
				return tls.Certificate{}, &engine.FieldError{Field: "ssl_key_passphrase", Err: errors.New("cannot decrypt ssl_key with it")}
			}
			keyPEM = pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &engine.FieldError{Field: "ssl_key", Err: fmt.Errorf("ssl_certificate and ssl_key: %v", err)}
	}
	return cert, nil
}
