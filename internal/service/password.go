package service

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/kycreview/kycreview"
)

// Console passwords are hashed with argon2id at OWASP's recommended
// minimum (19 MiB of memory, two passes, one lane): about 20-30 ms of one
// core, which bounds what a stolen database gives an attacker without
// letting a burst of sign-ins exhaust the server's memory.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Limits a stored hash's parameters must respect before VerifyPassword
// spends memory and time on them: a hash is data, and a forged one must not
// be a way to make the server allocate gigabytes.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 16
	maxArgonThreads   = 16
)

// Password length bounds, in characters (code points). The upper bound
// keeps hashing cost predictable; argon2 itself would take any length.
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

var b64 = base64.RawStdEncoding

// ErrMalformedHash is returned by VerifyPassword for a stored hash it cannot
// read.
var ErrMalformedHash = errors.New("password hash is not an argon2id PHC string")

// ValidatePassword checks a new password against the length bounds.
func ValidatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password) || strings.ContainsRune(password, 0):
		return kycreview.Errorf(kycreview.EINVALID, "password must be UTF-8 text without NUL characters")
	case n < MinPasswordLength:
		return kycreview.Errorf(kycreview.EINVALID, "password must have at least %d characters", MinPasswordLength)
	case n > MaxPasswordLength:
		return kycreview.Errorf(kycreview.EINVALID, "password must have no more than %d characters", MaxPasswordLength)
	}
	return nil
}

// HashPassword returns password hashed with argon2id under a fresh random
// salt, in the PHC string format that also records the parameters:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64).
// Hashes made with other parameters later still verify.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemoryKiB, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches encoded, a hash made by
// HashPassword (with any parameters within sane limits). The comparison
// takes the same time wherever the keys differ. A hash it cannot read is
// ErrMalformedHash, never a match.
func VerifyPassword(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var memory, iterations uint32
	var threads uint8
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &memory, &iterations, &threads); err != nil || n != 3 ||
		fmt.Sprintf("m=%d,t=%d,p=%d", memory, iterations, threads) != parts[3] {
		return false, ErrMalformedHash
	}
	if memory < 8*uint32(threads) || memory > maxArgonMemoryKiB || iterations < 1 || iterations > maxArgonTime ||
		threads < 1 || threads > maxArgonThreads {
		return false, ErrMalformedHash
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, ErrMalformedHash
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 128 {
		return false, ErrMalformedHash
	}
	got := argon2.IDKey([]byte(password), salt, iterations, memory, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
