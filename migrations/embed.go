// Package migrations embeds the versioned SQL migrations, one folder per
// database dialect. Files in both folders share their numbers: version N
// makes the same change on SQLite and on Postgres.
package migrations

import "embed"

// FS holds sqlite/NNNNN_name.sql and postgres/NNNNN_name.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
