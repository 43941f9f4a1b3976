//go:build cgosqlite || !((darwin && amd64) || (darwin && arm64) || (linux && 386) || (linux && amd64) || (linux && arm) || (linux && arm64) || (windows && amd64))

package storage

// configureSQLite does nothing with the cgo driver (see sqlite_modernc.go).
func configureSQLite() {}

// pageCacheUsed is -1: the cgo driver's page cache is its own.
func pageCacheUsed() int64 { return -1 }
