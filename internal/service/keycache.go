package service

import (
	"sync"
	"time"

	"github.com/kycreview/kycreview"
)

// keyCache remembers, for a short time, the API keys that authenticated,
// so that a burst of requests with one key does not look the key up in the
// database for each of them (a tenth of a feed request's CPU on SQLite).
//
// The trade-off is revocation: a key revoked through this Service is
// forgotten at once, but one revoked by another process (the admin command,
// another replica) is still accepted here until its entry expires, at most
// ttl later. Only keys that authenticated are kept, so a key created
// elsewhere works at once, and a wrong secret is never remembered as right:
// the cached entry holds the key's hash, and every request's token is
// still hashed and compared in constant time.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]cachedKey // by lookup prefix
	// forgets counts the revocations made through this Service. A lookup
	// notes it before it reads the database, and put refuses the key if a
	// revocation came in between: the key the lookup read may be the one
	// just revoked, and remembering it would let it in for a whole ttl.
	forgets uint64
}

type cachedKey struct {
	key     kycreview.APIKey
	expires time.Time
}

// maxCachedKeys bounds the cache; an application has a handful of keys, so
// reaching it means many tenants, and starting over is cheap.
const maxCachedKeys = 10000

// get returns the live cached key for lookup, if any, and the revocation
// count to pass to put when the key is looked up in the database instead.
func (c *keyCache) get(lookup string) (kycreview.APIKey, bool, uint64) {
	if c.ttl <= 0 {
		return kycreview.APIKey{}, false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[lookup]
	if !ok {
		return kycreview.APIKey{}, false, c.forgets
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, lookup)
		return kycreview.APIKey{}, false, c.forgets
	}
	return e.key, true, c.forgets
}

// put remembers key, which has just authenticated from a database read made
// after the get that returned since; nothing is remembered if a key was
// revoked through this Service meanwhile.
func (c *keyCache) put(lookup string, key kycreview.APIKey, since uint64) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.forgets != since {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedKeys {
		c.entries = make(map[string]cachedKey)
	}
	c.entries[lookup] = cachedKey{key: key, expires: c.now().Add(c.ttl)}
}

// forget drops the key with the given id, so that a revocation made through
// this Service takes effect at once.
func (c *keyCache) forget(keyID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgets++
	for lookup, e := range c.entries {
		if e.key.ID == keyID {
			delete(c.entries, lookup)
		}
	}
}
