package kycreview

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"strconv"
	"time"
)

// The audit chain makes changes to a session's history detectable: every
// feed row carries the SHA-256 of the previous row's hash followed by a
// canonical encoding of the row itself, so changing, removing, reordering
// or inserting a row breaks every hash after it. docs/audit-chain.md
// describes the encoding byte for byte; audit_test.go pins it with test
// vectors. The hash is computed here, in pure code, and storage only keeps
// it.

// HashSize is the length of a chain hash: SHA-256.
const HashSize = sha256.Size

// activityEncodingTag opens every row's encoding, so a hash of this format
// cannot be mistaken for a hash of anything else (or of a later version).
const activityEncodingTag = "kycreview.activity.v1"

// GenesisHash is the "previous hash" of a session's first row: 32 zero
// bytes. The session's id is part of every row's encoding, so rows cannot
// be moved between sessions even though every chain starts from the same
// value.
func GenesisHash() []byte { return make([]byte, HashSize) }

// ChainHash is the hash of row a of session sessionID following a row whose
// hash is prev (nil or empty for the first row):
// SHA-256(prev || ActivityEncoding(sessionID, a)).
func ChainHash(prev []byte, sessionID string, a Activity) []byte {
	if len(prev) == 0 {
		prev = GenesisHash()
	}
	h := sha256.New()
	h.Write(prev)
	var buf [512]byte
	h.Write(AppendActivityEncoding(buf[:0], sessionID, a))
	return h.Sum(nil)
}

// AppendActivityEncoding appends the canonical encoding of row a of session
// sessionID to b. Strings are their UTF-8 bytes after a 4-byte big-endian
// length; optional fields are one byte, 0 for null or 1 followed by the
// value; lists are a 4-byte count followed by their strings; integers are 8
// bytes big-endian. JSON values (previous_value, new_value, metadata) are
// their stored text, byte for byte. Fields, in order: the tag, session id,
// seq, row id, activity type, actor type, actor id?, actor display, actor
// email?, previous status?, new status?, comment?, mentioned emails,
// previous value?, new value?, changed fields, metadata?, created_at in
// microseconds since the Unix epoch. The rendered feed entry is not part of
// it: it is derived from these fields, and the verifier checks it is.
func AppendActivityEncoding(b []byte, sessionID string, a Activity) []byte {
	b = appendString(b, activityEncodingTag)
	b = appendString(b, sessionID)
	b = binary.BigEndian.AppendUint64(b, uint64(a.Seq))
	b = appendString(b, a.ID)
	b = appendString(b, string(a.Type))
	b = appendString(b, string(a.Actor.Type))
	if a.Actor.ID == "" {
		b = append(b, 0)
	} else {
		b = appendString(append(b, 1), a.Actor.ID)
	}
	b = appendString(b, a.Actor.Display)
	b = appendOptional(b, a.Actor.Email)
	b = appendOptional(b, (*string)(a.PreviousStatus))
	b = appendOptional(b, (*string)(a.NewStatus))
	b = appendOptional(b, a.Comment)
	b = appendList(b, a.MentionedEmails)
	b = appendRaw(b, a.PreviousValue)
	b = appendRaw(b, a.NewValue)
	b = appendList(b, a.ChangedFields)
	b = appendRaw(b, a.Metadata)
	return binary.BigEndian.AppendUint64(b, uint64(a.CreatedAt.UnixMicro()))
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendOptional(b []byte, s *string) []byte {
	if s == nil {
		return append(b, 0)
	}
	return appendString(append(b, 1), *s)
}

func appendRaw(b []byte, r []byte) []byte {
	if r == nil {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(len(r)))
	return append(b, r...)
}

func appendList(b []byte, l []string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// ChainHead is where a session's chain stands: its row count (the last
// seq) and the last row's hash, as kept on the session row, with what the
// audit tools need to know of the session.
type ChainHead struct {
	SessionPK     int64
	SessionID     string
	ApplicationID string
	Seq           int64
	// Hash is the last row's hash; nil for a session with no rows (or whose
	// rows were written without chaining).
	Hash    []byte
	Deleted bool
}

// HeadHash is the hash a proof states for the head: the genesis value for
// an empty chain.
func (h ChainHead) HeadHash() []byte {
	if h.Seq == 0 && len(h.Hash) == 0 {
		return GenesisHash()
	}
	return h.Hash
}

// ChainBreak is the first broken link of a session's chain: the seq of the
// first row that cannot be trusted, and why.
type ChainBreak struct {
	SessionID string `json:"session_id"`
	Seq       int64  `json:"seq"`
	Reason    string `json:"reason"`
}

// ChainVerifier recomputes one session's chain, row by row, in seq order,
// and stops at the first broken link. Checkpoints and receipts added with
// Expect before the rows are checked against the chain as it passes their
// seq, and at the end against its length.
type ChainVerifier struct {
	SessionID string
	// CheckEntries also checks each row's stored feed entry against its
	// fields (rows read from a database; an export carries no entries).
	CheckEntries bool

	prev     []byte
	seq      int64
	expected map[int64][]expectation
	Break    *ChainBreak
}

type expectation struct {
	hash []byte
	what string
}

// Expect adds a signed statement that the chain's row seq had hash head;
// what names it in a report ("checkpoint", "receipt"). Call it before Add.
func (v *ChainVerifier) Expect(seq int64, head []byte, what string) {
	if v.expected == nil {
		v.expected = map[int64][]expectation{}
	}
	v.expected[seq] = append(v.expected[seq], expectation{hash: head, what: what})
}

func (v *ChainVerifier) fail(seq int64, reason string) {
	if v.Break == nil {
		v.Break = &ChainBreak{SessionID: v.SessionID, Seq: seq, Reason: reason}
	}
}

// Add checks the next row. It reports whether the chain is still intact.
func (v *ChainVerifier) Add(a Activity) bool {
	if v.Break != nil {
		return false
	}
	want := v.seq + 1
	switch {
	case a.Seq > want:
		v.fail(want, "row missing: the next row stored has seq "+i64toa(a.Seq))
		return false
	case a.Seq < want:
		v.fail(want, "row out of place: seq "+i64toa(a.Seq)+" appears again")
		return false
	}
	if len(a.Hash) == 0 {
		v.fail(a.Seq, "row has no hash")
		return false
	}
	prev := v.prev
	if prev == nil {
		prev = GenesisHash()
	}
	if !bytes.Equal(ChainHash(prev, v.SessionID, a), a.Hash) {
		v.fail(a.Seq, "hash mismatch: the row or the one before it was changed, removed or moved")
		return false
	}
	if v.CheckEntries {
		entry, err := a.EntryJSON()
		if err != nil || !bytes.Equal(entry, a.Entry) {
			v.fail(a.Seq, "feed entry does not match the row's fields")
			return false
		}
	}
	for _, e := range v.expected[a.Seq] {
		if !bytes.Equal(e.hash, a.Hash) {
			v.fail(a.Seq, "hash differs from the signed "+e.what+" for this seq: history was rewritten")
			return false
		}
	}
	v.prev, v.seq = a.Hash, a.Seq
	return true
}

// Finish ends the chain: a checkpoint or receipt beyond its last row means
// rows were removed from its tail; head, if not nil, is what the session
// row says the chain's head is. It returns the first break, if any.
func (v *ChainVerifier) Finish(head *ChainHead) *ChainBreak {
	if v.Break != nil {
		return v.Break
	}
	// The furthest statement beyond the chain's end, so the report names
	// how far the chain once reached.
	var beyond int64
	for seq := range v.expected {
		beyond = max(beyond, seq)
	}
	if beyond > v.seq {
		v.fail(v.seq+1, "rows missing from the tail: a signed "+v.expected[beyond][0].what+" covers seq "+i64toa(beyond)+
			" but the chain ends at seq "+i64toa(v.seq))
		return v.Break
	}
	if head != nil {
		switch {
		case head.Seq != v.seq:
			v.fail(min(head.Seq, v.seq)+1, "the session records "+i64toa(head.Seq)+" rows but its chain has "+i64toa(v.seq))
		case v.seq > 0 && !bytes.Equal(head.Hash, v.prev):
			v.fail(v.seq, "the session's head hash differs from its last row's")
		}
	}
	return v.Break
}

// Last is the seq and hash of the last row checked and found intact.
func (v *ChainVerifier) Last() (int64, []byte) {
	if v.prev == nil {
		return v.seq, GenesisHash()
	}
	return v.seq, v.prev
}

func i64toa(n int64) string { return strconv.FormatInt(n, 10) }

// microTime is t cut to the microsecond, in UTC, as every stored time is.
func microTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
