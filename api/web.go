package api

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/http"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

// webDist is the editor's build output, written by `make build`. A plain
// `go build` embeds only the placeholder file, and the server says how to
// build the editor instead.
//
//go:embed all:web/dist
var webDist embed.FS

// embeddedEditor returns the editor's build output embedded in the binary.
func embeddedEditor() (fs.FS, error) {
	dist, err := fs.Sub(webDist, "web/dist")
	if err != nil {
		return nil, fmt.Errorf("embedded editor: %w", err)
	}
	return dist, nil
}

// mountWeb serves the editor from dist, or a page saying how to build it
// when dist holds no index.html.
func mountWeb(app *fiber.App, dist fs.FS) error {
	if _, err := fs.Stat(dist, "index.html"); errors.Is(err, fs.ErrNotExist) {
		app.Get("/", func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.SendString(notBuiltPage)
		})
		return nil
	}
	// Asset names carry a content hash, so browsers may keep them for good.
	app.Use("/assets", filesystem.New(filesystem.Config{
		Root: http.FS(dist), PathPrefix: "assets", MaxAge: 365 * 24 * 60 * 60,
	}))
	// Every other path is the single-page app's to route.
	app.Use("/", filesystem.New(filesystem.Config{
		Root: http.FS(dist), Index: "index.html", NotFoundFile: "index.html",
	}))
	return nil
}

const notBuiltPage = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hookflow</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}</style></head>
<body>
<h1>Hookflow is running</h1>
<p>This binary was built without the web editor. To build it in, run <code>make build</code>
(it needs Node.js) from the source tree, or start the server with <code>make run</code>.</p>
<p>The API is served under <code>/api/v1</code>; its description is at <code>/api/v1/openapi.json</code>.</p>
</body>
</html>
`
