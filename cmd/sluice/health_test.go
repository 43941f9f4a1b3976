package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestHealth checks the exit codes of `sluice health URL`, the container
// health check of docker-compose.yml.
func TestHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		url  string
		want int
	}{{srv.URL + "/ok", 0}, {srv.URL + "/degraded", 1}, {"http://127.0.0.1:1/healthz", 1}} {
		if got := health([]string{tc.url}); got != tc.want {
			t.Errorf("health %s = %d, want %d", tc.url, got, tc.want)
		}
	}
}
