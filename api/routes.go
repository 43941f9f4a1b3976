// Package api serves Sluice's HTTP API (v1, shared/API.md) with fiber: lists,
// contacts, events, scenarios with their stats and deliveries, the Test URL
// call, the node catalogue, /healthz and an OpenAPI 3.1 document of all of
// it at /api/v1/openapi.json.
//
// Every /api/v1 route needs "Authorization: Bearer <key>" except the OpenAPI
// document, which is public: it describes the contract and holds no data.
// Errors are answered by one error handler as
// {"error":{"code":"…","message":"…","field":"…"}}; handlers return engine
// errors and never choose an error status themselves.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/sluicehq/sluice/engine"
)

// DefaultBodyLimit is the largest request body accepted when
// Config.BodyLimit is zero: 1 MiB.
const DefaultBodyLimit = 1 << 20

// DefaultImportLimit is the largest contacts import body accepted when
// Config.ImportLimit is zero: 256 MiB.
const DefaultImportLimit = 256 << 20

// DefaultCheckTimeout bounds each health check when Config.CheckTimeout is
// zero.
const DefaultCheckTimeout = 3 * time.Second

// DefaultReadTimeout bounds the reading of a request when
// Config.ReadTimeout is zero.
const DefaultReadTimeout = 30 * time.Second

// Prefix is where the v1 API lives.
const Prefix = "/api/v1"

// Config configures New.
type Config struct {
	// Engine serves every route. Required.
	Engine *engine.Engine
	// APIKey is the bearer key the /api/v1 routes require. Required.
	APIKey string
	// BodyLimit is the largest request body in bytes; a larger one is
	// answered 413. Defaults to DefaultBodyLimit (1 MiB).
	BodyLimit int
	// ImportLimit is the largest body of POST /api/v1/contacts/import in
	// bytes, which is streamed rather than held in memory; a larger one is
	// answered 413 (the rows imported before stay). Defaults to
	// DefaultImportLimit (256 MiB).
	ImportLimit int64
	// Checks are the health checks GET /healthz runs, by name ("database",
	// "redis"). Defaults to {"database": Engine.Ping}.
	Checks map[string]func(context.Context) error
	// CheckTimeout bounds each health check. Defaults to DefaultCheckTimeout.
	CheckTimeout time.Duration
	// ReadTimeout bounds the reading of a request, body included; a
	// contacts import, which may stream for much longer, gets it for each
	// read of its body instead. Defaults to DefaultReadTimeout (30s).
	ReadTimeout time.Duration
	// Frontend serves "/" and the single-page app. It is mounted after every
	// other route and never sees /api/ or /healthz. Defaults to nil: "/"
	// answers a small JSON pointing to /api/v1.
	Frontend fiber.Handler
	// Logger records internal errors. Defaults to slog.Default().
	Logger *slog.Logger
	// Metrics, when set, serves GET /metrics (Prometheus; public, like
	// /healthz: it holds counts, no data). It is not part of the v1 API.
	Metrics http.Handler
}

// server holds what the handlers share; it is read-only after New.
type server struct {
	e            *engine.Engine
	keyHash      [sha256.Size]byte
	bodyLimit    int
	importLimit  int64
	checks       map[string]func(context.Context) error
	checkTimeout time.Duration
	readTimeout  time.Duration
	log          *slog.Logger
	openapi      []byte
}

// New checks cfg, applies its defaults and returns the fiber app serving
// the API (and the front end when cfg.Frontend is set).
func New(cfg Config) (*fiber.App, error) {
	if cfg.Engine == nil {
		return nil, errors.New("api: Config.Engine is required")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("api: Config.APIKey is required")
	}
	if cfg.BodyLimit < 0 {
		return nil, errors.New("api: Config.BodyLimit must not be negative")
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = DefaultBodyLimit
	}
	if cfg.ImportLimit < 0 {
		return nil, errors.New("api: Config.ImportLimit must not be negative")
	}
	if cfg.ImportLimit == 0 {
		cfg.ImportLimit = DefaultImportLimit
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Checks == nil {
		cfg.Checks = map[string]func(context.Context) error{"database": cfg.Engine.Ping}
	}
	checks := make(map[string]func(context.Context) error, len(cfg.Checks)) // the caller may change theirs
	for name, check := range cfg.Checks {
		if name == "" || name == "status" || check == nil {
			return nil, fmt.Errorf("api: health check %q: a check needs a name other than \"status\" and a function", name)
		}
		checks[name] = check
	}
	s := &server{e: cfg.Engine, keyHash: sha256.Sum256([]byte(cfg.APIKey)), bodyLimit: cfg.BodyLimit,
		importLimit: cfg.ImportLimit, checks: checks, checkTimeout: cfg.CheckTimeout, readTimeout: cfg.ReadTimeout,
		log: cfg.Logger}

	app := fiber.New(fiber.Config{
		AppName:               "sluice",
		BodyLimit:             cfg.BodyLimit,
		ErrorHandler:          s.handleError,
		DisableStartupMessage: true,
		Immutable:             true, // values outlive fasthttp's buffers (errors, logs)
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           2 * time.Minute,
		// Bodies are streamed for the contacts import; limitBody reads
		// every other one (bodylimit.go). Multipart forms are parsed from
		// the body limitBody read, not by fasthttp ahead of it: when
		// streaming, it would read them before any limit applies.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
	})
	app.Server().HeaderReceived = s.headerReceived
	app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.logPanic}))
	app.Use(s.limitBody)

	routes := s.routes(cfg.Frontend == nil)
	doc, err := buildOpenAPI(routes)
	if err != nil {
		return nil, fmt.Errorf("api: build the OpenAPI document: %w", err)
	}
	s.openapi = doc
	for _, r := range routes {
		handlers := []fiber.Handler{r.handler}
		if !r.public {
			handlers = []fiber.Handler{s.auth, r.handler}
		}
		if r.method == fiber.MethodGet {
			app.Get(r.path, handlers...) // also answers HEAD
		} else {
			app.Add(r.method, r.path, handlers...)
		}
	}
	if cfg.Metrics != nil {
		// The adaptor makes fasthttp's RequestCtx the request's context;
		// a context derived from it races with the server's shutdown, so
		// the handler gets a detached one.
		metrics := cfg.Metrics
		app.Get("/metrics", adaptor.HTTPHandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			metrics.ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
		}))
	}
	if cfg.Frontend != nil {
		frontend := cfg.Frontend
		app.Use(func(c *fiber.Ctx) error {
			if p := c.Path(); p == "/api" || strings.HasPrefix(p, "/api/") || p == "/healthz" || strings.HasPrefix(p, "/hooks/") {
				return c.Next() // unknown API routes get a JSON 404 or 405
			}
			return frontend(c)
		})
	}
	return app, nil
}

// route is one route of the API with its OpenAPI description.
type route struct {
	method  string
	path    string // fiber syntax: /api/v1/scenarios/:id
	handler fiber.Handler
	public  bool // no bearer key needed
	doc     opDoc
}

// routes is every route the app serves; the OpenAPI document is built from
// the same table.
func (s *server) routes(root bool) []route {
	const p = Prefix
	var rs []route
	if root {
		rs = append(rs, route{"GET", "/", s.root, true, opDoc{id: "root", tag: "meta",
			summary: "Where the API is", resp: rootInfo{}}})
	}
	rs = append(rs,
		route{"GET", "/healthz", s.health, true, opDoc{id: "health", tag: "meta",
			summary:     "Health of the database, Redis and the other checks",
			description: "200 when every check passes, else 503 with status \"degraded\" and the failing check's \"error: …\".",
			resp:        healthSchema(), extra: map[int]respDoc{503: {"A check failed", healthSchema()}}}},
		route{"GET", p + "/openapi.json", s.openAPI, true, opDoc{id: "openapi", tag: "meta",
			summary: "This document (public: no bearer key needed)", resp: rawSchema{"type": "object"}}},

		route{"POST", p + "/lists", s.createList, false, opDoc{id: "createList", tag: "lists",
			summary: "Create a list", body: createListRequest{}, status: 201, resp: engine.List{}, errs: []int{400, 413, 422}}},
		route{"GET", p + "/lists", s.listLists, false, opDoc{id: "listLists", tag: "lists",
			summary: "Every list", resp: listsPage{}}},
		route{"GET", p + "/lists/:id", s.getList, false, opDoc{id: "getList", tag: "lists",
			summary: "One list", resp: engine.List{}, errs: []int{404}}},

		route{"POST", p + "/contacts", s.createContact, false, opDoc{id: "createContact", tag: "contacts",
			summary: "Create a contact", description: "email is required; 409 when a contact has that email (case-insensitively).",
			body: engine.ContactInput{}, status: 201, resp: engine.Contact{}, errs: []int{400, 409, 413, 422}}},
		route{"GET", p + "/contacts", s.findContact, false, opDoc{id: "findContact", tag: "contacts",
			summary: "Find a contact by email (case-insensitive)",
			query:   []queryParam{{name: "email", required: true, schema: rawSchema{"type": "string"}, desc: "The contact's email."}},
			resp:    engine.Contact{}, errs: []int{400, 404}}},
	)
	// Before /contacts/:id: fiber takes the first route that matches, and
	// that one would take "imports" for a contact id.
	rs = append(rs, s.importRoutes()...) // api/imports.go
	rs = append(rs,
		route{"GET", p + "/contacts/:id", s.getContact, false, opDoc{id: "getContact", tag: "contacts",
			summary: "One contact", resp: engine.Contact{}, errs: []int{404}}},
		route{"PUT", p + "/contacts/:id", s.replaceContact, false, opDoc{id: "replaceContact", tag: "contacts",
			summary: "Replace a contact", description: "Fields left out are cleared; email is required.",
			body: engine.ContactInput{}, resp: engine.Contact{}, errs: []int{400, 404, 409, 413, 422}}},
		route{"PATCH", p + "/contacts/:id", s.patchContact, false, opDoc{id: "patchContact", tag: "contacts",
			summary: "Merge changes into a contact", description: "Fields left out keep their value.",
			body: engine.ContactInput{}, resp: engine.Contact{}, errs: []int{400, 404, 409, 413, 422}}},

		route{"POST", p + "/events", s.postEvent, false, opDoc{id: "postEvent", tag: "events",
			summary:     "Record an event",
			description: "The event is stored before 202 is sent; its contact is created if missing. A refused event is a 422 naming the field.",
			body:        engine.EventInput{}, status: 202, resp: eventAccepted{}, errs: []int{400, 413, 422}}},
		route{"POST", p + "/events/batch", s.postEvents, false, opDoc{id: "postEvents", tag: "events",
			summary:     "Record up to 1,000 events",
			description: "Valid events are stored (in one transaction) before 202 is sent; invalid ones are refused one by one with their index.",
			body:        batchRequest{}, status: 202, resp: batchResult{}, errs: []int{400, 413, 422}}},

		route{"POST", p + "/scenarios", s.createScenario, false, opDoc{id: "createScenario", tag: "scenarios",
			summary:     "Create a scenario (draft version 1)",
			description: "The graph is saved as drawn; validate or activate judges it.",
			body:        engine.ScenarioInput{}, status: 201, resp: engine.ScenarioView{}, errs: []int{400, 413, 422}}},
		route{"GET", p + "/scenarios", s.listScenarios, false, opDoc{id: "listScenarios", tag: "scenarios",
			summary: "Every scenario with its reach and last activity", resp: scenariosPage{}}},
		route{"GET", p + "/scenarios/:id", s.getScenario, false, opDoc{id: "getScenario", tag: "scenarios",
			summary: "A scenario with its latest version's graph (or version N's)",
			query:   []queryParam{versionParam("The version whose graph to return; defaults to the latest.")},
			resp:    engine.ScenarioView{}, errs: []int{400, 404, 422}}},
		route{"PUT", p + "/scenarios/:id", s.saveScenario, false, opDoc{id: "saveScenario", tag: "scenarios",
			summary:     "Save a new draft version",
			description: "An active scenario keeps running its active version until the new one is activated. 409 when archived.",
			body:        engine.ScenarioInput{}, resp: engine.ScenarioView{}, errs: []int{400, 404, 409, 413, 422}}},
		route{"DELETE", p + "/scenarios/:id", s.deleteScenario, false, opDoc{id: "deleteScenario", tag: "scenarios",
			summary: "Delete a draft or archived scenario", status: 204, errs: []int{404, 409}}},
		route{"GET", p + "/scenarios/:id/versions/:n", s.getScenarioVersion, false, opDoc{id: "getScenarioVersion", tag: "scenarios",
			summary: "A scenario with the graph of version n", resp: engine.ScenarioView{}, errs: []int{400, 404, 422},
			pathTypes: map[string]rawSchema{"n": {"type": "integer", "minimum": 1}}}},
		route{"POST", p + "/scenarios/:id/validate", s.validateScenario, false, opDoc{id: "validateScenario", tag: "scenarios",
			summary: "Check the latest version", description: "200 {\"valid\":true}, or 422 with every problem.",
			resp: validResult{}, errs: []int{404}, problems: true}},
		route{"POST", p + "/scenarios/:id/activate", s.activateScenario, false, opDoc{id: "activateScenario", tag: "scenarios",
			summary:     "Activate the latest version",
			description: "New runs enter on it; runs in flight keep their version. 422 with every problem when invalid.",
			resp:        engine.ScenarioView{}, errs: []int{404, 409}, problems: true}},
		route{"POST", p + "/scenarios/:id/pause", s.pauseScenario, false, opDoc{id: "pauseScenario", tag: "scenarios",
			summary: "Stop new runs from entering (runs in flight go on)", resp: engine.ScenarioView{}, errs: []int{404, 409}}},
		route{"POST", p + "/scenarios/:id/archive", s.archiveScenario, false, opDoc{id: "archiveScenario", tag: "scenarios",
			summary: "Retire a scenario (runs in flight go on)", resp: engine.ScenarioView{}, errs: []int{404, 409}}},
		route{"POST", p + "/scenarios/:id/rotate-secret", s.rotateSecret, false, opDoc{id: "rotateSecret", tag: "scenarios",
			summary: "Give the scenario a new signing secret", resp: engine.ScenarioView{}, errs: []int{404, 409}}},
		route{"GET", p + "/scenarios/:id/stats", s.scenarioStats, false, opDoc{id: "scenarioStats", tag: "stats",
			summary: "Per-step counters of a version",
			query: []queryParam{versionParam("The version; defaults to the active version, else the latest."),
				{name: "bucket", schema: rawSchema{"type": "string", "enum": []string{"hour"}}, desc: "hour adds each step's hourly buckets of the last 7 days."}},
			resp: engine.ScenarioStats{}, errs: []int{400, 404, 422}}},
		route{"GET", p + "/scenarios/:id/steps/:node_id/deliveries", s.stepDeliveries, false, opDoc{id: "stepDeliveries", tag: "stats",
			summary: "A step's webhook deliveries with their attempts, newest first",
			query: []queryParam{
				{name: "status", schema: rawSchema{"type": "string", "enum": deliveryStatuses()}, desc: "Only deliveries with this status."},
				{name: "limit", schema: rawSchema{"type": "integer", "minimum": 1, "maximum": maxLimit, "default": defaultLimit}, desc: "Page size."},
				{name: "cursor", schema: rawSchema{"type": "string"}, desc: "next_cursor of the previous page."},
				versionParam("Only deliveries of this version; defaults to every version.")},
			resp: deliveryPage{}, errs: []int{400, 404, 422}}},

		route{"POST", p + "/webhooks/test", s.testWebhook, false, opDoc{id: "testWebhook", tag: "webhooks",
			summary:     "Send a test request to a URL",
			description: "200 whether the URL answered or not: ok is false with error when it could not be reached or answered non-2xx. 422 for bad input.",
			body:        engine.TestRequest{}, resp: engine.TestResult{}, errs: []int{400, 413, 422}}},
		route{"GET", p + "/node-types", s.nodeTypes, false, opDoc{id: "nodeTypes", tag: "scenarios",
			summary: "The node catalogue with each type's config schema", resp: nodeTypesPage{}}},
	)
	rs = append(rs, s.subscriptionRoutes()...) // api/subscriptions.go
	rs = append(rs, s.inboundRoutes()...)      // api/inbound.go
	return rs
}

// auth lets a request through when it carries the API key as a bearer
// token; the comparison takes the same time whatever the key.
func (s *server) auth(c *fiber.Ctx) error {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if ok && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare(got[:], s.keyHash[:]) == 1 {
		return c.Next()
	}
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="sluice"`)
	if h == "" {
		return &requestError{status: fiber.StatusUnauthorized, code: "unauthorized",
			message: "this route needs an API key: Authorization: Bearer <key>"}
	}
	return &requestError{status: fiber.StatusUnauthorized, code: "unauthorized", message: "the API key was refused"}
}

// rootInfo is what "/" answers when there is no front end.
type rootInfo struct {
	Name    string `json:"name"`
	API     string `json:"api"`
	OpenAPI string `json:"openapi"`
	Health  string `json:"health"`
}

// root answers GET / without a front end: where the API is.
func (s *server) root(c *fiber.Ctx) error {
	return c.JSON(rootInfo{Name: "sluice", API: Prefix, OpenAPI: Prefix + "/openapi.json", Health: "/healthz"})
}

// openAPI answers GET /api/v1/openapi.json: the document built in New.
func (s *server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(s.openapi)
}

// logPanic records a handler's panic; the recover middleware then answers 500.
func (s *server) logPanic(c *fiber.Ctx, e any) {
	s.log.Error("api: handler panicked", "method", c.Method(), "path", c.Path(), "panic", fmt.Sprint(e))
}
