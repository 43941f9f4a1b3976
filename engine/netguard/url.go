package netguard

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLength is the longest outbound URL accepted, in bytes.
const MaxURLLength = 2048

// ValidateURL checks that raw is an absolute http or https URL with a host,
// no user name or password, and at most MaxURLLength bytes. It makes no DNS
// lookup: the real guard runs when connecting (see NewClient).
func ValidateURL(raw string) error {
	if raw == "" {
		return errors.New("URL is empty")
	}
	if len(raw) > MaxURLLength {
		return fmt.Errorf("URL is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("URL is not valid: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("URL must start with http:// or https://")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return errors.New("URL has no host")
	}
	if u.User != nil {
		return errors.New("URL must not contain a user name or password")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("URL port %q is not between 1 and 65535", p)
		}
	}
	return nil
}

// CheckHost refuses, without DNS, a URL host (as url.URL.Hostname returns
// it, or bracketed) that is a literal non-public IP address or a name that
// always means this machine (localhost, *.localhost). The error is a
// *RefusedError. It returns nil for other names and when allowPrivate is set.
func CheckHost(host string, allowPrivate bool) error {
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" {
		return errors.New("host is empty")
	}
	if allowPrivate {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if class, ok := Classify(addr); !ok {
			return &RefusedError{Host: host, Addr: addr, Class: class}
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return &RefusedError{Host: host, Class: ClassLoopback}
	}
	if name == "metadata.google.internal" {
		return &RefusedError{Host: host, Class: ClassMetadata}
	}
	return nil
}
