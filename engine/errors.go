package engine

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; the api maps them to HTTP statuses.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrRetry is a transaction the database gave up on because of a
	// concurrent one (a deadlock): run again, it may well succeed.
	ErrRetry = errors.New("lost to a concurrent transaction")
	// ErrStale is a write that assumed rows were as last read and found
	// them changed (a step another worker had finished): nothing of its
	// transaction is stored.
	ErrStale = errors.New("rows changed since they were read")
)

// InvalidError is well-formed input that breaks a rule (HTTP 422). Field
// names the offending input, e.g. "graph.nodes[2].config.url".
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Invalid returns an *InvalidError for field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConflictError is a request that clashes with the current state (HTTP 409).
type ConflictError struct{ Message string }

func (e *ConflictError) Error() string { return e.Message }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Problem is one thing wrong with a graph: the node it concerns (empty for
// graph-wide problems), the field inside the node ("config.url") and why.
type Problem struct {
	Node    string `json:"node,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ProblemsError carries every problem found in a graph (HTTP 422).
type ProblemsError struct{ Problems []Problem }

func (e *ProblemsError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = strings.TrimPrefix(p.Node+" "+p.Field+": "+p.Message, " ")
	}
	return "invalid graph: " + strings.Join(parts, "; ")
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
