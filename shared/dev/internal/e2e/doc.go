// Package e2e holds the end-to-end tests: the three real binaries (from
// PORTHOLE_BIN, built by make build) over loopback, driven through the
// headless interface by package harness, with windows under Xvfb where a
// test looks at one. The package has no code of its own outside its tests;
// make test-e2e runs it.
package e2e
