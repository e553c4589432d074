// Package e2e holds the end-to-end tests that span several plugins: whole
// pipelines from a configuration file (or the built binary) against real
// servers and real clients on loopback. It has no code of its own; README.md
// lists what each test proves and which servers it needs.
//
// These tests import dsl to load configurations, which plugins never do: this
// package is the one place under plugins/ where that is allowed, and only in
// its _test.go files.
package e2e
