package kycreview

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// A checkpoint is a signed statement that, at a time, a session's chain had
// seq rows and ended in a hash. The service signs the head of every chain
// that changed, periodically, and answers GET …/reviews/proof/ with a
// freshly signed head: a receipt a customer keeps. Rows removed from a
// chain's tail after a checkpoint or receipt are then caught, since no one
// without the key can sign a shorter head. The signed message is described
// in docs/audit-chain.md.

// checkpointTag opens every signed message, so a signature over a
// checkpoint cannot be replayed as a signature over anything else.
const checkpointTag = "kycreview.checkpoint.v1"

// Checkpoint is a signed chain head.
type Checkpoint struct {
	PK        int64
	SessionPK int64
	SessionID string
	Seq       int64
	Head      []byte
	CreatedAt time.Time
	// KeyID names the signing key (AuditKeyID of its public key); PublicKey
	// is that key. Both are empty and Signature nil for an unsigned proof.
	KeyID     string
	PublicKey ed25519.PublicKey
	Signature []byte
}

// SignedMessage is the exact bytes a checkpoint's signature covers: the tag,
// the session id, the seq, the head hash and the time in microseconds, in
// the encoding of AppendActivityEncoding.
func (c Checkpoint) SignedMessage() []byte {
	b := appendString(nil, checkpointTag)
	b = appendString(b, c.SessionID)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	b = appendString(b, string(c.Head))
	return binary.BigEndian.AppendUint64(b, uint64(c.CreatedAt.UnixMicro()))
}

// VerifySignature reports whether c is signed by pub (and names it).
func (c Checkpoint) VerifySignature(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && len(c.Signature) == ed25519.SignatureSize &&
		c.KeyID == AuditKeyID(pub) && ed25519.Verify(pub, c.SignedMessage(), c.Signature)
}

// AuditKey is the service's Ed25519 checkpoint signing key.
type AuditKey struct {
	private ed25519.PrivateKey
}

// AuditKeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func AuditKeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateAuditKey makes a new key and returns it as a PEM "PRIVATE KEY"
// block (PKCS #8), the form ParseAuditKey reads and `openssl genpkey
// -algorithm ed25519` writes.
func GenerateAuditKey() ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseAuditKey reads a PEM "PRIVATE KEY" block holding an Ed25519 key.
func ParseAuditKey(data []byte) (*AuditKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("audit key: not a PEM PRIVATE KEY block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("audit key: a %T, not an Ed25519 key", key)
	}
	return &AuditKey{private: priv}, nil
}

// Public is the key's public half.
func (k *AuditKey) Public() ed25519.PublicKey { return k.private.Public().(ed25519.PublicKey) }

// ID is AuditKeyID of the key's public half.
func (k *AuditKey) ID() string { return AuditKeyID(k.Public()) }

// Sign fills c's key fields and signature. c's time is cut to the
// microsecond first, the precision it is stored and shown with.
func (k *AuditKey) Sign(c *Checkpoint) {
	c.CreatedAt = microTime(c.CreatedAt)
	c.PublicKey, c.KeyID = k.Public(), k.ID()
	c.Signature = ed25519.Sign(k.private, c.SignedMessage())
}

// CheckpointJSON is a checkpoint as the proof endpoint answers it and as
// exports and receipts carry it. Binary values are hex (hashes) and
// standard base64 (key, signature); the time has microsecond precision,
// the precision it is signed with. The key fields and the signature are
// null for an unsigned proof (no key configured), and head_hash is null for
// a chain written without hashes.
type CheckpointJSON struct {
	SessionID string  `json:"session_id"`
	Seq       int64   `json:"seq"`
	HeadHash  *string `json:"head_hash"`
	Time      string  `json:"time"`
	Algorithm *string `json:"algorithm"`
	KeyID     *string `json:"key_id"`
	PublicKey *string `json:"public_key"`
	Signature *string `json:"signature"`
}

// JSON is c in its JSON form.
func (c Checkpoint) JSON() CheckpointJSON {
	j := CheckpointJSON{SessionID: c.SessionID, Seq: c.Seq, Time: FormatMicro(c.CreatedAt)}
	if c.Head != nil {
		h := hex.EncodeToString(c.Head)
		j.HeadHash = &h
	}
	if c.Signature != nil {
		alg, id := "Ed25519", c.KeyID
		pub, sig := base64.StdEncoding.EncodeToString(c.PublicKey), base64.StdEncoding.EncodeToString(c.Signature)
		j.Algorithm, j.KeyID, j.PublicKey, j.Signature = &alg, &id, &pub, &sig
	}
	return j
}

// Checkpoint parses j back, refusing malformed fields. It checks the form
// only: whether the signature is good is VerifySignature's business.
func (j CheckpointJSON) Checkpoint() (Checkpoint, error) {
	c := Checkpoint{SessionID: j.SessionID, Seq: j.Seq}
	id, ok := CanonicalUUID(j.SessionID)
	if !ok || j.Seq < 0 {
		return c, errors.New("checkpoint: session_id must be a UUID and seq not negative")
	}
	c.SessionID = id
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return c, fmt.Errorf("checkpoint: time: %w", err)
	}
	c.CreatedAt = t.UTC()
	if j.HeadHash != nil {
		if c.Head, err = hex.DecodeString(*j.HeadHash); err != nil || len(c.Head) != HashSize {
			return c, errors.New("checkpoint: head_hash must be 64 hex digits")
		}
	}
	if j.Signature != nil {
		if j.Algorithm == nil || *j.Algorithm != "Ed25519" || j.KeyID == nil || j.PublicKey == nil {
			return c, errors.New("checkpoint: a signature needs algorithm Ed25519, key_id and public_key")
		}
		if c.Signature, err = base64.StdEncoding.DecodeString(*j.Signature); err != nil {
			return c, errors.New("checkpoint: signature is not base64")
		}
		pub, err := base64.StdEncoding.DecodeString(*j.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return c, errors.New("checkpoint: public_key is not a base64 Ed25519 key")
		}
		c.PublicKey, c.KeyID = pub, *j.KeyID
	}
	return c, nil
}

// ParsePublicKey reads an Ed25519 public key given as standard base64 of its
// 32 bytes, as proofs and exports show it.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("public key: want the standard base64 of 32 bytes")
	}
	return b, nil
}

// ChainCheck is what checking one session's chain found.
type ChainCheck struct {
	Break *ChainBreak
	Rows  int
	// Checkpoints counts checkpoints whose signature was verified with a
	// trusted key and whose head the chain matched; Unverified those signed
	// by a key not trusted, which prove nothing and are skipped.
	Checkpoints, Unverified int
}

// CheckChain checks the chain of session sessionID: rows in seq order;
// head, if not nil, the head the session row records; checkpoints, the
// signed heads stored for it, each trusted only if signed by one of
// trusted; receipts, heads the caller has vetted already, each of which
// the chain must still contain. checkEntries also checks each row's feed
// entry (rows read from a database).
func CheckChain(sessionID string, head *ChainHead, rows []Activity, checkpoints []Checkpoint, receipts []Checkpoint,
	trusted []ed25519.PublicKey, checkEntries bool) ChainCheck {
	v := &ChainVerifier{SessionID: sessionID, CheckEntries: checkEntries}
	var res ChainCheck
	for _, c := range checkpoints {
		var key ed25519.PublicKey
		for _, k := range trusted {
			if AuditKeyID(k) == c.KeyID {
				key = k
			}
		}
		switch {
		case key == nil:
			res.Unverified++
		case !c.VerifySignature(key):
			v.fail(c.Seq, "the checkpoint for this seq has an invalid signature")
		default:
			res.Checkpoints++
			v.Expect(c.Seq, c.Head, "checkpoint")
		}
	}
	for _, r := range receipts {
		v.Expect(r.Seq, r.Head, "receipt")
	}
	for _, a := range rows {
		if !v.Add(a) {
			break
		}
		res.Rows++
	}
	res.Break = v.Finish(head)
	return res
}
