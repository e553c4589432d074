package monitor

import (
	"embed"
	"io/fs"
	"net/http"
)

// The status page (GET /status/): the pipelines as graphs of their plugins
// with live event rates, drawn by a script that polls
// /_node/stats/pipelines on the same listener and with the same auth. Its
// files are embedded: it loads nothing from elsewhere (its
// Content-Security-Policy allows this origin only).
//
//go:embed statuspage
var statusFiles embed.FS

func statusPage() http.Handler {
	sub, err := fs.Sub(statusFiles, "statuspage")
	if err != nil {
		panic(err) // the embedded directory is part of the binary
	}
	files := http.StripPrefix("/status/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}
