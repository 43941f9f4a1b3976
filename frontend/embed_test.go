package frontend

import (
	"io"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func newApp() *fiber.App {
	app := fiber.New()
	app.Get("/api/v1/ping", func(c *fiber.Ctx) error { return c.SendString("pong") })
	app.Use(Handler())
	app.Use(func(c *fiber.Ctx) error { return c.Status(404).SendString("next") })
	return app
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var asset string
	_ = fs.WalkDir(FS(), "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".js") && asset == "" {
			asset = "/" + p
		}
		return nil
	})
	if asset == "" {
		t.Fatal("no .js asset in dist: run `npm run build` in frontend/")
	}
	tests := []struct {
		name, method, path      string
		status                  int
		contentType, cache, has string
	}{
		{"root", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"index", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"spa route", "GET", "/scenarios/scn_123", 200, "text/html; charset=utf-8", "no-cache", `<div id="root">`},
		{"asset", "GET", asset, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"head asset", "HEAD", asset, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"favicon", "GET", "/favicon.svg", 200, "image/svg+xml", "public, max-age=3600", "<svg"},
		{"missing asset", "GET", "/assets/nope-123.js", 404, "", "", ""},
		{"api passes through", "GET", "/api/v1/ping", 200, "", "", "pong"},
		{"unknown api", "GET", "/api/v1/nope", 404, "", "", "next"},
		{"hooks", "GET", "/hooks/abc", 404, "", "", "next"},
		{"healthz", "GET", "/healthz", 404, "", "", "next"},
		{"post", "POST", "/scenarios/x", 404, "", "", "next"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := newApp().Test(httptest.NewRequest(tt.method, tt.path, nil))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", res.StatusCode, tt.status, body)
			}
			if tt.contentType != "" && res.Header.Get("Content-Type") != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", res.Header.Get("Content-Type"), tt.contentType)
			}
			if tt.cache != "" && res.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", res.Header.Get("Cache-Control"), tt.cache)
			}
			if tt.has != "" && !strings.Contains(string(body), tt.has) {
				t.Errorf("body lacks %q", tt.has)
			}
		})
	}
}

func TestHandlerETag(t *testing.T) {
	t.Parallel()
	app := newApp()
	res, err := app.Test(httptest.NewRequest("GET", "/", nil))
	if err != nil {
		t.Fatal(err)
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on index.html")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("If-None-Match", etag)
	res, err = app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 304 {
		t.Fatalf("status = %d, want 304", res.StatusCode)
	}
}

func TestDistHasNoSourceMaps(t *testing.T) {
	t.Parallel()
	_ = fs.WalkDir(FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".map") {
			t.Errorf("source map %s in the embedded build", p)
		}
		return nil
	})
}
