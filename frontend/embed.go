// Package frontend embeds the built web app (frontend/dist, committed) and
// serves it: hashed assets with long cache lifetimes, and index.html for
// every other page path so that the single-page app's routes load directly.
package frontend

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

//go:embed all:dist
var dist embed.FS

// FS returns the built app: index.html at its root, hashed files under assets/.
func FS() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("frontend: dist missing from the embedded files: " + err.Error()) // cannot happen: go:embed checked it
	}
	return sub
}

// file is one embedded file, ready to send.
type file struct {
	body        []byte
	contentType string
	cache       string
	etag        string
}

var (
	loadOnce sync.Once
	files    map[string]*file
)

// contentTypes fixes the types of the files a Vite build makes, so that they
// do not depend on the host's MIME database.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".txt":   "text/plain; charset=utf-8",
	".webp":  "image/webp",
}

func load() {
	files = map[string]*file{}
	root := FS()
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		ext := path.Ext(p)
		ct := contentTypes[ext]
		if ct == "" {
			if ct = mime.TypeByExtension(ext); ct == "" {
				ct = "application/octet-stream"
			}
		}
		sum := sha256.Sum256(body)
		f := &file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		switch {
		case strings.HasPrefix(p, "assets/"): // content-hashed names never change
			f.cache = "public, max-age=31536000, immutable"
		case p == "index.html":
			f.cache = "no-cache"
		default:
			f.cache = "public, max-age=3600"
		}
		files["/"+p] = f
		return nil
	})
}

// reserved reports whether p belongs to the server, not to the app.
func reserved(p string) bool {
	for _, prefix := range []string{"/api", "/hooks", "/healthz"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// Handler serves the app. GET and HEAD of an embedded file send it;
// any other GET path outside /api/, /hooks/ and /healthz gets index.html
// (no-cache) so that the app's own routes work on reload. Everything else
// goes to the next handler.
func Handler() fiber.Handler {
	loadOnce.Do(load)
	return func(c *fiber.Ctx) error {
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		p := path.Clean("/" + c.Path())
		if reserved(p) {
			return c.Next()
		}
		f := files[p]
		if f == nil {
			if strings.HasPrefix(p, "/assets/") {
				return fiber.ErrNotFound // a stale hashed name: not the app
			}
			f = files["/index.html"]
			if f == nil {
				return c.Next()
			}
		}
		c.Set(fiber.HeaderCacheControl, f.cache)
		c.Set(fiber.HeaderETag, f.etag)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, f.contentType)
		return c.Send(f.body)
	}
}
