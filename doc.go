// Package kycreview is the domain of the kycreview service: the types of the
// manual-review workflow (applications, sessions, the activity feed, actors,
// mentions, webhook events, notifications) and the pure rules over them.
//
// It imports only the standard library. Storage, HTTP and the workers live in
// internal/ packages that depend on this one, never the other way round, so
// the rules here are the same for the API, the console and both databases.
package kycreview
