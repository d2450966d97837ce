// Package migrations holds the versioned goose SQL for each dialect, embedded
// in the binary and applied on start and by `gatehouse migrate`.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migrations of one dialect ("postgres" or "sqlite").
func FS(dialect string) fs.FS {
	sub, err := fs.Sub(files, dialect)
	if err != nil {
		panic(err)
	}
	return sub
}
