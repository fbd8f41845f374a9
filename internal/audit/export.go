package audit

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// An export is JSON Lines: a header, then for each session a session line,
// its rows in seq order and its latest checkpoint, if any. Every value an
// auditor hashes is given exactly as it was hashed: JSON fields of a row
// (previous_value, new_value, metadata) as strings holding their stored
// text, the time as integer microseconds. docs/audit-chain.md describes
// the lines field by field.

// Format names the export format in its header.
const Format = "kycreview-audit-export"

// Header is an export's first line.
type Header struct {
	Type       string `json:"type"` // "header"
	Format     string `json:"format"`
	Version    int    `json:"version"`
	ExportedAt string `json:"exported_at"`
	// Algorithm, KeyID and PublicKey are the exporting service's checkpoint
	// key; null when it has none configured.
	Algorithm *string `json:"algorithm"`
	KeyID     *string `json:"key_id"`
	PublicKey *string `json:"public_key"`
}

// SessionLine opens a session's lines: the head its session row records.
type SessionLine struct {
	Type          string  `json:"type"` // "session"
	SessionID     string  `json:"session_id"`
	ApplicationID string  `json:"application_id"`
	Seq           int64   `json:"seq"`
	HeadHash      *string `json:"head_hash"`
	Deleted       bool    `json:"deleted"`
}

// ActivityLine is one row with its hash.
type ActivityLine struct {
	Type            string   `json:"type"` // "activity"
	SessionID       string   `json:"session_id"`
	Seq             int64    `json:"seq"`
	UUID            string   `json:"uuid"`
	ActivityType    string   `json:"activity_type"`
	ActorType       string   `json:"actor_type"`
	ActorID         *string  `json:"actor_id"`
	ActorDisplay    string   `json:"actor_display"`
	ActorEmail      *string  `json:"actor_email"`
	PreviousStatus  *string  `json:"previous_status"`
	NewStatus       *string  `json:"new_status"`
	Comment         *string  `json:"comment"`
	MentionedEmails []string `json:"mentioned_emails"`
	PreviousValue   *string  `json:"previous_value"`
	NewValue        *string  `json:"new_value"`
	ChangedFields   []string `json:"changed_fields"`
	Metadata        *string  `json:"metadata"`
	CreatedAt       string   `json:"created_at"`
	CreatedAtMicros int64    `json:"created_at_us"`
	Hash            *string  `json:"hash"`
}

// CheckpointLine is a session's latest checkpoint.
type CheckpointLine struct {
	Type string `json:"type"` // "checkpoint"
	kycreview.CheckpointJSON
}

// ExportStats counts what an export wrote.
type ExportStats struct {
	Sessions    int   `json:"sessions"`
	Rows        int64 `json:"rows"`
	Checkpoints int   `json:"checkpoints"`
}

// Export writes the chains of application appID or session sessionID (one
// of them, or both) to w.
func Export(ctx context.Context, w io.Writer, svc *service.Service, appID, sessionID string, now time.Time) (ExportStats, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	h := Header{Type: "header", Format: Format, Version: 1, ExportedAt: kycreview.FormatMicro(now)}
	if k := svc.AuditKey(); k != nil {
		alg, id, pub := "Ed25519", k.ID(), base64.StdEncoding.EncodeToString(k.Public())
		h.Algorithm, h.KeyID, h.PublicKey = &alg, &id, &pub
	}
	if err := enc.Encode(h); err != nil {
		return ExportStats{}, err
	}
	var st ExportStats
	err := svc.WalkChains(ctx, appID, sessionID, func(d service.ChainData) error {
		st.Sessions++
		if err := enc.Encode(SessionLine{Type: "session", SessionID: d.Head.SessionID, ApplicationID: d.Head.ApplicationID,
			Seq: d.Head.Seq, HeadHash: hexPtr(d.Head.Hash), Deleted: d.Head.Deleted}); err != nil {
			return err
		}
		for _, a := range d.Rows {
			st.Rows++
			if err := enc.Encode(activityLine(d.Head.SessionID, a)); err != nil {
				return err
			}
		}
		if n := len(d.Checkpoints); n > 0 {
			st.Checkpoints++
			return enc.Encode(CheckpointLine{Type: "checkpoint", CheckpointJSON: d.Checkpoints[n-1].JSON()})
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, bw.Flush()
}

func activityLine(sessionID string, a kycreview.Activity) ActivityLine {
	l := ActivityLine{
		Type: "activity", SessionID: sessionID, Seq: a.Seq, UUID: a.ID, ActivityType: string(a.Type),
		ActorType: string(a.Actor.Type), ActorDisplay: a.Actor.Display, ActorEmail: a.Actor.Email,
		PreviousStatus: (*string)(a.PreviousStatus), NewStatus: (*string)(a.NewStatus), Comment: a.Comment,
		MentionedEmails: nonNil(a.MentionedEmails), PreviousValue: rawPtr(a.PreviousValue), NewValue: rawPtr(a.NewValue),
		ChangedFields: nonNil(a.ChangedFields), Metadata: rawPtr(a.Metadata),
		CreatedAt: kycreview.FormatMicro(a.CreatedAt), CreatedAtMicros: a.CreatedAt.UnixMicro(), Hash: hexPtr(a.Hash),
	}
	if a.Actor.ID != "" {
		id := a.Actor.ID
		l.ActorID = &id
	}
	return l
}

// activity turns a line back into the row it describes.
func (l ActivityLine) activity() (kycreview.Activity, error) {
	a := kycreview.Activity{
		ID: l.UUID, Seq: l.Seq, Type: kycreview.ActivityType(l.ActivityType),
		Actor:          kycreview.Actor{Type: kycreview.ActorType(l.ActorType), Display: l.ActorDisplay, Email: l.ActorEmail},
		PreviousStatus: (*kycreview.Status)(l.PreviousStatus), NewStatus: (*kycreview.Status)(l.NewStatus), Comment: l.Comment,
		MentionedEmails: nonNil(l.MentionedEmails), PreviousValue: rawOf(l.PreviousValue), NewValue: rawOf(l.NewValue),
		ChangedFields: nonNil(l.ChangedFields), Metadata: rawOf(l.Metadata), CreatedAt: time.UnixMicro(l.CreatedAtMicros).UTC(),
	}
	if l.ActorID != nil {
		a.Actor.ID = *l.ActorID
	}
	if kycreview.FormatMicro(a.CreatedAt) != l.CreatedAt {
		return a, fmt.Errorf("created_at %q disagrees with created_at_us %d", l.CreatedAt, l.CreatedAtMicros)
	}
	if l.Hash != nil {
		h, err := hex.DecodeString(*l.Hash)
		if err != nil {
			return a, errors.New("hash is not hex")
		}
		a.Hash = h
	}
	return a, nil
}

// FileReport is what VerifyExport found: the service's report, and whether
// the checkpoints were checked against a key the caller trusts or only
// against the key the export names (which whoever made the file chose).
type FileReport struct {
	service.AuditReport
	KeyID      *string `json:"key_id"`
	KeyTrusted bool    `json:"key_trusted"`
}

// VerifyExport checks an export read from r, offline: every chain, each
// against the head its session line states, its checkpoint, and receipts.
// Checkpoints count only if signed by one of trusted; with no trusted key
// given, the export's own key is used and the report says so.
func VerifyExport(r io.Reader, trusted []ed25519.PublicKey, receipts []kycreview.Checkpoint) (FileReport, error) {
	dec := json.NewDecoder(bufio.NewReader(r))
	var h Header
	if err := dec.Decode(&h); err != nil {
		return FileReport{}, fmt.Errorf("export: header: %w", err)
	}
	if h.Type != "header" || h.Format != Format || h.Version != 1 {
		return FileReport{}, errors.New("export: not a kycreview audit export (version 1)")
	}
	rep := FileReport{AuditReport: service.AuditReport{OK: true, Broken: []kycreview.ChainBreak{}}, KeyTrusted: len(trusted) > 0}
	if len(trusted) == 0 && h.PublicKey != nil {
		pub, err := kycreview.ParsePublicKey(*h.PublicKey)
		if err != nil {
			return FileReport{}, fmt.Errorf("export: header: %w", err)
		}
		trusted = []ed25519.PublicKey{pub}
	}
	if len(trusted) > 0 {
		id := kycreview.AuditKeyID(trusted[0])
		rep.KeyID = &id
	}
	pending := map[string][]kycreview.Checkpoint{}
	for _, c := range receipts {
		pending[c.SessionID] = append(pending[c.SessionID], c)
	}

	var cur *chain
	flush := func() {
		if cur == nil {
			return
		}
		rs := pending[cur.head.SessionID]
		delete(pending, cur.head.SessionID)
		rep.Receipts += len(rs)
		rep.Add(kycreview.CheckChain(cur.head.SessionID, &cur.head, cur.rows, cur.checkpoints, rs, trusted, false))
		cur = nil
	}
	for line := 2; ; line++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
		}
		var kind struct {
			Type      string `json:"type"`
			SessionID string `json:"session_id"`
		}
		if err := json.Unmarshal(raw, &kind); err != nil {
			return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
		}
		if kind.Type != "session" && (cur == nil || kind.SessionID != cur.head.SessionID) {
			return FileReport{}, fmt.Errorf("export: line %d: a %s line outside its session", line, kind.Type)
		}
		switch kind.Type {
		case "session":
			flush()
			var s SessionLine
			if err := json.Unmarshal(raw, &s); err != nil {
				return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
			}
			head := kycreview.ChainHead{SessionID: s.SessionID, ApplicationID: s.ApplicationID, Seq: s.Seq, Deleted: s.Deleted}
			if s.HeadHash != nil {
				b, err := hex.DecodeString(*s.HeadHash)
				if err != nil {
					return FileReport{}, fmt.Errorf("export: line %d: head_hash is not hex", line)
				}
				head.Hash = b
			}
			cur = &chain{head: head}
		case "activity":
			var l ActivityLine
			if err := json.Unmarshal(raw, &l); err != nil {
				return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
			}
			a, err := l.activity()
			if err != nil {
				return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
			}
			cur.rows = append(cur.rows, a)
		case "checkpoint":
			var l CheckpointLine
			if err := json.Unmarshal(raw, &l); err != nil {
				return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
			}
			c, err := l.Checkpoint()
			if err != nil {
				return FileReport{}, fmt.Errorf("export: line %d: %w", line, err)
			}
			cur.checkpoints = append(cur.checkpoints, c)
		default:
			return FileReport{}, fmt.Errorf("export: line %d: unknown line type %q", line, kind.Type)
		}
	}
	flush()
	for id, rs := range pending {
		rep.Receipts += len(rs)
		rep.Broken = append(rep.Broken, kycreview.ChainBreak{SessionID: id, Seq: 1,
			Reason: "the session is not in the export, but a receipt covers it"})
		rep.OK = false
	}
	return rep, nil
}

type chain struct {
	head        kycreview.ChainHead
	rows        []kycreview.Activity
	checkpoints []kycreview.Checkpoint
}

func hexPtr(b []byte) *string {
	if b == nil {
		return nil
	}
	s := hex.EncodeToString(b)
	return &s
}

func rawPtr(r json.RawMessage) *string {
	if r == nil {
		return nil
	}
	s := string(r)
	return &s
}

func rawOf(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
