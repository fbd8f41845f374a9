package kycreview

import "time"

// Application is the tenant: every other record belongs to exactly one.
type Application struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Role is what an API key may do.
type Role string

// The API key roles. A system key belongs to the customer's verification
// pipeline and may also move sessions through the workflow statuses.
const (
	RoleClient Role = "client"
	RoleSystem Role = "system"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleClient || r == RoleSystem }

// APIKey is an application's credential. Only a hash of its secret is ever
// stored; the secret is shown once, when the key is created.
type APIKey struct {
	ID            string
	ApplicationID string
	Role          Role
	// Lookup is the non-secret-enough prefix of the token used to find the
	// row; the rest is checked by comparing hashes in constant time.
	Lookup    string
	Hash      []byte
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Kind is a workflow's, and so a session's, kind.
type Kind string

// The two kinds: KYC sessions verify people, KYB sessions verify businesses.
const (
	KindUser     Kind = "user"
	KindBusiness Kind = "business"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindUser || k == KindBusiness }

// Workflow belongs to an application and decides its sessions' kind. Every
// application gets one workflow of each kind when it is created.
type Workflow struct {
	ID            string
	ApplicationID string
	Kind          Kind
	Name          string
	CreatedAt     time.Time
}

// ConsoleUser is a person who signs in to the web console and can be
// @mentioned in the applications they belong to.
type ConsoleUser struct {
	ID         string
	Email      string
	FullName   string
	CreatedAt  time.Time
	DisabledAt *time.Time
}

// DisplayName is how the user appears as an actor in the feed: their full
// name, else the local part of their email.
func (u ConsoleUser) DisplayName() string {
	if u.FullName != "" {
		return u.FullName
	}
	for i := len(u.Email) - 1; i >= 0; i-- {
		if u.Email[i] == '@' {
			return u.Email[:i]
		}
	}
	return u.Email
}
