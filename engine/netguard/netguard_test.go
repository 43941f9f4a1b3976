package netguard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		class   string
		allowed bool
	}{
		// Public.
		{"1.1.1.1", ClassPublic, true},
		{"8.8.8.8", ClassPublic, true},
		{"93.184.215.14", ClassPublic, true},
		{"9.255.255.255", ClassPublic, true},
		{"11.0.0.1", ClassPublic, true},
		{"100.63.255.255", ClassPublic, true},
		{"100.128.0.0", ClassPublic, true},
		{"126.255.255.255", ClassPublic, true},
		{"128.0.0.1", ClassPublic, true},
		{"169.253.255.255", ClassPublic, true},
		{"169.255.0.1", ClassPublic, true},
		{"172.15.255.255", ClassPublic, true},
		{"172.32.0.0", ClassPublic, true},
		{"192.0.1.1", ClassPublic, true},
		{"192.167.255.255", ClassPublic, true},
		{"192.169.0.0", ClassPublic, true},
		{"198.17.255.255", ClassPublic, true},
		{"198.20.0.0", ClassPublic, true},
		{"223.255.255.255", ClassPublic, true},
		{"2606:4700:4700::1111", ClassPublic, true},
		{"2001:4860:4860::8888", ClassPublic, true},
		{"2a00:1450:4001::200e", ClassPublic, true},
		{"::ffff:8.8.8.8", ClassPublic, true},
		{"64:ff9b::808:808", ClassPublic, true}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", ClassPublic, true},  // 6to4 of 8.8.8.8

		// Unspecified and "this network".
		{"0.0.0.0", ClassUnspecified, false},
		{"::", ClassUnspecified, false},
		{"0.1.2.3", ClassThisNetwork, false},
		{"0.255.255.255", ClassThisNetwork, false},

		// Loopback.
		{"127.0.0.1", ClassLoopback, false},
		{"127.255.255.254", ClassLoopback, false},
		{"::1", ClassLoopback, false},
		{"::ffff:127.0.0.1", ClassLoopback, false},

		// Private.
		{"10.0.0.1", ClassPrivate, false},
		{"10.255.255.255", ClassPrivate, false},
		{"172.16.0.1", ClassPrivate, false},
		{"172.31.255.255", ClassPrivate, false},
		{"192.168.0.1", ClassPrivate, false},
		{"192.168.255.255", ClassPrivate, false},
		{"::ffff:10.0.0.1", ClassPrivate, false},
		{"::ffff:192.168.1.1", ClassPrivate, false},
		{"64:ff9b::a00:1", ClassPrivate, false},      // NAT64 of 10.0.0.1
		{"64:ff9b::c0a8:101", ClassPrivate, false},   // NAT64 of 192.168.1.1
		{"64:ff9b::7f00:1", ClassLoopback, false},    // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", ClassMetadata, false}, // NAT64 of 169.254.169.254
		{"64:ff9b:1::a00:1", ClassPrivate, false},    // local-use NAT64
		{"2002:a00:1::1", ClassPrivate, false},       // 6to4 of 10.0.0.1
		{"2002:7f00:1::", ClassLoopback, false},      // 6to4 of 127.0.0.1
		{"::ffff:169.254.169.254", ClassMetadata, false},

		// Shared address space (CGNAT).
		{"100.64.0.1", ClassSharedCGNAT, false},
		{"100.100.100.200", ClassSharedCGNAT, false}, // Alibaba metadata
		{"100.127.255.255", ClassSharedCGNAT, false},

		// Link-local and cloud metadata.
		{"169.254.0.1", ClassLinkLocal, false},
		{"169.254.170.2", ClassLinkLocal, false},
		{"169.254.169.254", ClassMetadata, false},
		{"fe80::1", ClassLinkLocal, false},
		{"fe80::1%eth0", ClassLinkLocal, false},
		{"febf:ffff::1", ClassLinkLocal, false},
		{"fd00:ec2::254", ClassMetadata, false},

		// Unique-local and site-local.
		{"fc00::1", ClassUniqueLocal, false},
		{"fd12:3456:789a::1", ClassUniqueLocal, false},
		{"fdff:ffff::1", ClassUniqueLocal, false},
		{"fec0::1", ClassSiteLocal, false},

		// Multicast and broadcast.
		{"224.0.0.1", ClassMulticast, false},
		{"239.255.255.250", ClassMulticast, false},
		{"ff02::1", ClassMulticast, false},
		{"ff05::1:3", ClassMulticast, false},
		{"255.255.255.255", ClassBroadcast, false},

		// Reserved.
		{"240.0.0.1", ClassReserved, false},
		{"254.255.255.255", ClassReserved, false},
		{"192.0.0.8", ClassReserved, false},
		{"192.88.99.1", ClassReserved, false},
		{"::a00:1", ClassReserved, false},    // IPv4-compatible, deprecated
		{"100::1", ClassReserved, false},     // discard-only
		{"2001::1", ClassReserved, false},    // Teredo
		{"2001:10::1", ClassReserved, false}, // ORCHID
		{"4000::1", ClassReserved, false},    // outside 2000::/3
		{"1000::1", ClassReserved, false},    // outside 2000::/3

		// Benchmarking and documentation.
		{"198.18.0.1", ClassBenchmarking, false},
		{"198.19.255.255", ClassBenchmarking, false},
		{"2001:2::1", ClassBenchmarking, false},
		{"192.0.2.1", ClassDocumentation, false},
		{"198.51.100.1", ClassDocumentation, false},
		{"203.0.113.1", ClassDocumentation, false},
		{"2001:db8::1", ClassDocumentation, false},
		{"3fff::1", ClassDocumentation, false},
	}
	for _, tt := range tests {
		addr := netip.MustParseAddr(tt.addr)
		class, allowed := Classify(addr)
		if class != tt.class || allowed != tt.allowed {
			t.Errorf("Classify(%s) = %q, %v; want %q, %v", tt.addr, class, allowed, tt.class, tt.allowed)
		}
	}
	if class, allowed := Classify(netip.Addr{}); class != ClassInvalid || allowed {
		t.Errorf("Classify(zero) = %q, %v; want %q, false", class, allowed, ClassInvalid)
	}
}

func TestValidateURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		wantErr string // "" when valid
	}{
		{"https://example.com/hook", ""},
		{"http://example.com:8080/a?b=c#d", ""},
		{"HTTPS://Example.COM/", ""},
		{"https://[2001:db8::1]:443/", ""},
		{"https://10.0.0.1/", ""}, // literal IPs are CheckHost's business
		{"", "empty"},
		{"https://example.com/" + strings.Repeat("a", MaxURLLength), "longer than 2048"},
		{"ftp://example.com/", "http:// or https://"},
		{"example.com/hook", "http:// or https://"},
		{"/relative", "http:// or https://"},
		{"https:///path", "no host"},
		{"https://:443/", "no host"},
		{"https:example.com", "no host"},
		{"https://user:pass@example.com/", "user name or password"},
		{"https://user@example.com/", "user name or password"},
		{"https://example.com:0/", "port"},
		{"https://example.com:70000/", "port"},
		{"https://exa mple.com/", "not valid"},
		{"https://example.com/\x00", "not valid"},
	}
	for _, tt := range tests {
		err := ValidateURL(tt.url)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateURL(%q) = %v; want nil", tt.url, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ValidateURL(%q) = %v; want error containing %q", tt.url, err, tt.wantErr)
		}
	}
}

func TestCheckHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host         string
		allowPrivate bool
		wantClass    string // "" when allowed
	}{
		{"example.com", false, ""},
		{"8.8.8.8", false, ""},
		{"[2606:4700:4700::1111]", false, ""},
		{"10.0.0.1", false, ClassPrivate},
		{"127.0.0.1", false, ClassLoopback},
		{"[::1]", false, ClassLoopback},
		{"::ffff:10.0.0.1", false, ClassPrivate},
		{"169.254.169.254", false, ClassMetadata},
		{"[fd00:ec2::254]", false, ClassMetadata},
		{"localhost", false, ClassLoopback},
		{"LocalHost.", false, ClassLoopback},
		{"api.localhost", false, ClassLoopback},
		{"metadata.google.internal", false, ClassMetadata},
		{"10.0.0.1", true, ""},
		{"localhost", true, ""},
	}
	for _, tt := range tests {
		err := CheckHost(tt.host, tt.allowPrivate)
		if tt.wantClass == "" {
			if err != nil {
				t.Errorf("CheckHost(%q, %v) = %v; want nil", tt.host, tt.allowPrivate, err)
			}
			continue
		}
		var re *RefusedError
		if !errors.As(err, &re) || re.Class != tt.wantClass {
			t.Errorf("CheckHost(%q, %v) = %v; want a refusal as %s", tt.host, tt.allowPrivate, err, tt.wantClass)
		}
	}
	if err := CheckHost("", false); err == nil {
		t.Error("CheckHost(\"\") = nil; want an error")
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	t.Parallel()
	err := CheckHost("10.0.0.1", false)
	want := "refused to connect to 10.0.0.1: private address (set SLUICE_ALLOW_PRIVATE_TARGETS=true to allow)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v; want %q", err, want)
	}
}

// get makes a GET with client to url, bounded by a short timeout.
func get(t *testing.T, client *http.Client, url string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return client.Do(req)
}

func TestClientRefusesLoopback(t *testing.T) {
	t.Parallel()
	hits := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- struct{}{}
	}))
	defer srv.Close()

	resp, err := get(t, NewClient(Config{}), srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to loopback succeeded; want it refused")
	}
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v; want a *RefusedError", err)
	}
	if re.Class != ClassLoopback || re.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("refused %s as %q; want 127.0.0.1 as loopback", re.Addr, re.Class)
	}
	if !strings.Contains(err.Error(), "refused to connect to 127.0.0.1: loopback address") {
		t.Errorf("error = %q; want it to say why", err)
	}
	select {
	case <-hits:
		t.Error("the server was reached")
	default:
	}

	// A name that resolves to loopback is refused at connect time too.
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	if _, err := get(t, NewClient(Config{}), "http://localhost:"+port+"/"); !errors.As(err, &re) {
		t.Errorf("request to localhost: error = %v; want a *RefusedError", err)
	}
}

func TestClientAllowPrivate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	resp, err := get(t, NewClient(Config{AllowPrivate: true}), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "hello" {
		t.Errorf("got %d %q; want 200 \"hello\"", resp.StatusCode, body)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	targetHit := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		targetHit <- struct{}{}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := get(t, NewClient(Config{AllowPrivate: true}), srv.URL+"/start")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/target" {
		t.Errorf("got %d Location %q; want 302 to /target", resp.StatusCode, resp.Header.Get("Location"))
	}
	select {
	case <-targetHit:
		t.Error("the redirect was followed")
	default:
	}
}

func TestClientIgnoresProxyEnvironment(t *testing.T) {
	tr := NewTransport(Config{})
	if tr.Proxy != nil {
		t.Error("transport uses a proxy function; want none")
	}
	if tr.MaxIdleConnsPerHost != 256 || tr.MaxConnsPerHost != 0 || tr.IdleConnTimeout != 90*time.Second ||
		tr.TLSHandshakeTimeout != 10*time.Second || !tr.ForceAttemptHTTP2 || tr.DisableKeepAlives {
		t.Errorf("transport not tuned as documented: %+v", tr)
	}
}
