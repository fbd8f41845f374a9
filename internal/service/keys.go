package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/kycreview/kycreview"
)

// An API key's token is "kyc_" followed by 43 characters of base64url
// (32 random bytes). Its first lookupLen random characters find the row; the
// SHA-256 of the whole token is compared in constant time, so neither the
// secret nor its hash is ever matched by a variable-time index comparison.
const (
	tokenPrefix = "kyc_"
	lookupLen   = 16
	tokenLen    = len(tokenPrefix) + 43
)

// newToken returns a fresh token and its lookup prefix and hash.
func newToken() (token, lookup string, hash []byte) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	token = tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(token))
	return token, token[len(tokenPrefix) : len(tokenPrefix)+lookupLen], sum[:]
}

// isBase64URL reports whether s uses only the base64url alphabet, so that a
// forged header never reaches the database as bytes it cannot store.
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Authenticate returns the live API key whose token is token. Every failure
// is the same ErrForbidden, so callers learn nothing about which keys exist.
func (s *Service) Authenticate(ctx context.Context, token string) (kycreview.APIKey, error) {
	if len(token) != tokenLen || !strings.HasPrefix(token, tokenPrefix) || !isBase64URL(token[len(tokenPrefix):]) {
		return kycreview.APIKey{}, kycreview.ErrForbidden
	}
	lookup := token[len(tokenPrefix) : len(tokenPrefix)+lookupLen]
	key, cached, epoch := s.keys.get(lookup)
	if !cached {
		err := s.store.Read(ctx, func(tx Tx) error {
			var err error
			key, err = tx.FindAPIKeyByLookup(ctx, lookup)
			return err
		})
		if kycreview.ErrorCode(err) == kycreview.ENOTFOUND {
			return kycreview.APIKey{}, kycreview.ErrForbidden
		} else if err != nil {
			return kycreview.APIKey{}, err
		}
	}
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], key.Hash) != 1 || key.RevokedAt != nil {
		return kycreview.APIKey{}, kycreview.ErrForbidden
	}
	if !cached {
		s.keys.put(lookup, key, epoch)
	}
	return key, nil
}
