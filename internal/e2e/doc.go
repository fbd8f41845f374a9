// Package e2e holds kycreview's end-to-end tests: the real service on a real
// database behind a real HTTP server on a loopback port, driven through the
// Go client and raw HTTP. It has no code of its own outside its tests.
package e2e
