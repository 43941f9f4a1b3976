package netguard

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// AllowHint tells the operator how to lift the guard; it ends every
// RefusedError message.
const AllowHint = "set SLUICE_ALLOW_PRIVATE_TARGETS=true to allow"

// RefusedError is an outbound connection refused by the guard: the target
// is not a public address. Detect it with errors.As.
type RefusedError struct {
	Host  string     // the address or name refused, e.g. "10.0.0.1" or "localhost"
	Addr  netip.Addr // the address refused; zero when a name was refused
	Class string     // what the address is, one of the Class constants
}

// Error reads like "refused to connect to 10.0.0.1: private address (set …)".
func (e *RefusedError) Error() string {
	return "refused to connect to " + e.Host + ": " + e.Class + " address (" + AllowHint + ")"
}

// Config tunes NewClient.
type Config struct {
	// AllowPrivate lets requests reach every address, loopback and private
	// networks included (SLUICE_ALLOW_PRIVATE_TARGETS). Defaults to false:
	// only public addresses are reached.
	AllowPrivate bool
	// DialTimeout bounds connecting to one address. Defaults to 10s.
	DialTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept
	// per host. Defaults to 256.
	MaxIdleConnsPerHost int
}

// NewClient returns the HTTP client for outbound webhooks: every address
// it connects to, after DNS resolution, passes Classify unless
// cfg.AllowPrivate is set (else the request fails with a *RefusedError);
// it never follows redirects (a 3xx is returned as the response), ignores
// proxy environment variables and keeps many connections alive to few
// hosts. It sets no overall timeout: bound each request with its context.
func NewClient(cfg Config) *http.Client {
	return &http.Client{
		Transport: NewTransport(cfg),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// NewTransport returns the guarded transport NewClient uses.
func NewTransport(cfg Config) *http.Transport {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = 256
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		dialer.ControlContext = guard
	}
	return &http.Transport{
		Proxy:                  nil, // never from the environment: a proxy would dial for us, unguarded
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4 * cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:        0,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true, // record answers as sent; no gzip bombs
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
	}
}

// guard is the dialer's ControlContext: it runs for every address the
// dialer is about to connect to, after DNS, so a name resolving (or
// rebinding) to a private address cannot slip through.
func guard(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %s: not an IP address", address)
	}
	if class, ok := Classify(ap.Addr()); !ok {
		return &RefusedError{Host: ap.Addr().String(), Addr: ap.Addr(), Class: class}
	}
	return nil
}
