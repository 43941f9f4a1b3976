package engine

import (
	"encoding/base32"
	"strings"

	"github.com/google/uuid"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix_ followed by a time-ordered random id (a UUIDv7 in
// Crockford base32), e.g. "evt_06bq3…".
func NewID(prefix string) string {
	u := uuid.Must(uuid.NewV7())
	return prefix + "_" + idEncoding.EncodeToString(u[:])
}

// IDSuffix returns the part of id after its prefix.
func IDSuffix(id string) string {
	if i := strings.IndexByte(id, '_'); i >= 0 {
		return id[i+1:]
	}
	return id
}
