package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"

	"github.com/sluicehq/sluice/engine/netguard"
)

// describe turns a failed request into a short readable reason for the
// attempt log: "connection refused", "timeout after 15s", the SSRF guard's
// refusal… parent is the caller's context, tctx the request's (parent
// bounded by timeout).
func describe(err error, parent, tctx context.Context, timeout time.Duration) string {
	var refused *netguard.RefusedError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &refused):
		return refused.Error()
	case parent.Err() != nil:
		return "canceled before an answer: " + context.Cause(parent).Error()
	case errors.Is(tctx.Err(), context.DeadlineExceeded):
		return "timeout after " + timeout.String()
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "DNS lookup of " + dnsErr.Name + " failed: no such host"
		}
		return "DNS lookup of " + dnsErr.Name + " failed: " + dnsErr.Err
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the server"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "host unreachable"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.As(err, &certErr):
		return "TLS certificate not valid: " + certErr.Err.Error()
	case errors.As(err, &recErr):
		return "TLS handshake failed: the server did not answer with TLS"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server before an answer"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout: " + inner(err)
	}
	return inner(err)
}

// inner drops the *url.Error wrapper (`Post "https://…": `), since the
// attempt records the URL and method already.
func inner(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
