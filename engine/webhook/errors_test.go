package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestDescribe(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://example.com/hook", Err: err}
	}
	dial := func(errno syscall.Errno) error {
		return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		err  error
		want string
	}{
		{dial(syscall.ECONNREFUSED), "connection refused"},
		{dial(syscall.ECONNRESET), "connection reset by the server"},
		{dial(syscall.EHOSTUNREACH), "host unreachable"},
		{dial(syscall.ENETUNREACH), "network unreachable"},
		{wrap(&net.DNSError{Err: "no such host", Name: "nope.example", IsNotFound: true}),
			"DNS lookup of nope.example failed: no such host"},
		{wrap(&net.DNSError{Err: "server misbehaving", Name: "bad.example"}),
			"DNS lookup of bad.example failed: server misbehaving"},
		{wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			"TLS certificate not valid: x509: certificate signed by unknown authority"},
		{wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			"TLS handshake failed: the server did not answer with TLS"},
		{wrap(io.EOF), "connection closed by the server before an answer"},
		{wrap(errors.New("net/http: invalid header field name \"a b\"")), "net/http: invalid header field name \"a b\""},
	}
	ctx := context.Background()
	for _, tt := range tests {
		if got := describe(tt.err, ctx, ctx, time.Second); got != tt.want {
			t.Errorf("describe(%v) = %q; want %q", tt.err, got, tt.want)
		}
	}
}
