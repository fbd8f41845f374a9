package service

import (
	"context"
	"crypto/ed25519"
	"strconv"
	"time"

	"github.com/kycreview/kycreview"
)

// auditConfig is the audit chain's part of a Service.
type auditConfig struct {
	key *kycreview.AuditKey
	// unchained writes rows without hashes, as before issue 8: only for the
	// benchmark that measures what chaining costs.
	unchained bool
}

// WithAuditKey makes the Service sign checkpoints and proofs with key.
// Without it proofs are unsigned and Checkpoint refuses to run.
func WithAuditKey(key *kycreview.AuditKey) Option {
	return func(s *Service) { s.audit.key = key }
}

// WithoutAuditChain makes the Service write feed rows without chain hashes.
// It exists for the benchmark that measures the chain's cost; a trail
// written with it fails verification.
func WithoutAuditChain() Option {
	return func(s *Service) { s.audit.unchained = true }
}

// AuditKey is the configured checkpoint key, or nil.
func (s *Service) AuditKey() *kycreview.AuditKey { return s.audit.key }

// Proof returns the current head of a KYC session's chain, signed now if a
// key is configured. The session must be visible to key exactly as for the
// feed. It only reads: a proof is the customer's receipt, not a stored
// checkpoint.
func (s *Service) Proof(ctx context.Context, key kycreview.APIKey, sessionID string) (kycreview.Checkpoint, error) {
	var sess kycreview.Session
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		sess, err = findVisible(ctx, tx, key.ApplicationID, sessionID, kycreview.KindUser)
		return err
	})
	if err != nil {
		return kycreview.Checkpoint{}, err
	}
	head := kycreview.ChainHead{SessionPK: sess.PK, SessionID: sess.ID, Seq: sess.ActivityCount, Hash: sess.ChainHead}
	c := kycreview.Checkpoint{SessionPK: sess.PK, SessionID: sess.ID, Seq: head.Seq, Head: head.HeadHash(),
		CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
	if s.audit.key != nil && c.Head != nil {
		s.audit.key.Sign(&c)
	}
	return c, nil
}

// checkpointBatch is how many chains one checkpoint transaction signs.
const checkpointBatch = 200

// Checkpoint signs the head of every chain that grew since its last
// checkpoint and stores the checkpoints; it returns how many it stored.
// Chains are taken in batches, one transaction each, under a lock only one
// process holds at a time: when another holds it (a replica doing the same
// work) this call stops early and leaves the rest to it.
func (s *Service) Checkpoint(ctx context.Context) (int, error) {
	if s.audit.key == nil {
		return 0, kycreview.Errorf(kycreview.EINVALID, "no audit key is configured (--audit-key-file)")
	}
	total := 0
	var after int64
	for {
		var n int
		var done bool
		err := s.store.WriteTx(ctx, func(tx Tx) error {
			n, done = 0, true
			ok, err := tx.TryLockCheckpoints(ctx)
			if err != nil || !ok {
				return err
			}
			heads, err := tx.DueCheckpoints(ctx, after, checkpointBatch)
			if err != nil {
				return err
			}
			for _, h := range heads {
				if len(h.Hash) == 0 {
					continue // written without chaining: nothing to sign
				}
				c := kycreview.Checkpoint{SessionPK: h.SessionPK, SessionID: h.SessionID, Seq: h.Seq, Head: h.Hash, CreatedAt: s.now()}
				s.audit.key.Sign(&c)
				stored, err := tx.InsertCheckpoint(ctx, &c)
				if err != nil {
					return err
				}
				if stored {
					n++
				}
			}
			if len(heads) == checkpointBatch {
				done, after = false, heads[len(heads)-1].SessionPK
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if done {
			return total, nil
		}
	}
}

// ChainData is one session's chain as stored: its head, its rows in seq
// order and its checkpoints.
type ChainData struct {
	Head        kycreview.ChainHead
	Rows        []kycreview.Activity
	Checkpoints []kycreview.Checkpoint
}

// chainBatch is how many sessions one read transaction of WalkChains covers.
const chainBatch = 100

// WalkChains calls fn with the chain of every session (deleted ones too) of
// application appID and with id sessionID, each filter off when empty, in
// the order sessions were created. Each batch of sessions is read from one
// snapshot, so a chain and its head agree even while reviews go on.
func (s *Service) WalkChains(ctx context.Context, appID, sessionID string, fn func(ChainData) error) error {
	var after int64
	for {
		var batch []ChainData
		err := s.store.ReadTx(ctx, func(tx Tx) error {
			batch = batch[:0]
			heads, err := tx.ListChainHeads(ctx, appID, sessionID, after, chainBatch)
			if err != nil {
				return err
			}
			for _, h := range heads {
				d := ChainData{Head: h}
				if d.Rows, err = tx.ListChainRows(ctx, h.SessionPK); err != nil {
					return err
				}
				if d.Checkpoints, err = tx.ListCheckpoints(ctx, h.SessionPK); err != nil {
					return err
				}
				batch = append(batch, d)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range batch {
			if err := fn(d); err != nil {
				return err
			}
		}
		if len(batch) < chainBatch {
			return nil
		}
		after = batch[len(batch)-1].Head.SessionPK
	}
}

// AuditReport is what VerifyChains found.
type AuditReport struct {
	OK       bool  `json:"ok"`
	Sessions int   `json:"sessions"`
	Rows     int64 `json:"rows"`
	// Checkpoints counts stored checkpoints verified with a trusted key and
	// matched; UnverifiedCheckpoints those signed by other keys (skipped).
	Checkpoints           int `json:"checkpoints"`
	UnverifiedCheckpoints int `json:"unverified_checkpoints"`
	Receipts              int `json:"receipts"`
	// Broken lists the first broken link of each broken chain.
	Broken []kycreview.ChainBreak `json:"broken"`
}

// Add records one chain's check.
func (r *AuditReport) Add(c kycreview.ChainCheck) {
	r.Sessions++
	r.Rows += int64(c.Rows)
	r.Checkpoints += c.Checkpoints
	r.UnverifiedCheckpoints += c.Unverified
	if c.Break != nil {
		r.Broken = append(r.Broken, *c.Break)
	}
	r.OK = len(r.Broken) == 0
}

// VerifyChains recomputes the chains WalkChains selects: every row's hash,
// its feed entry, the session's recorded head, the stored checkpoints signed
// by a trusted key (the configured one and trusted), and receipts, heads
// vetted by the caller that the chains must still contain. A receipt for a
// session that no longer exists is a break too.
func (s *Service) VerifyChains(ctx context.Context, appID, sessionID string, receipts []kycreview.Checkpoint, trusted []ed25519.PublicKey) (AuditReport, error) {
	if s.audit.key != nil {
		trusted = append(trusted, s.audit.key.Public())
	}
	pending := map[string][]kycreview.Checkpoint{}
	for _, r := range receipts {
		pending[r.SessionID] = append(pending[r.SessionID], r)
	}
	rep := AuditReport{OK: true, Broken: []kycreview.ChainBreak{}}
	check := func(d ChainData) error {
		rs := pending[d.Head.SessionID]
		delete(pending, d.Head.SessionID)
		rep.Receipts += len(rs)
		head := d.Head
		rep.Add(kycreview.CheckChain(head.SessionID, &head, d.Rows, d.Checkpoints, rs, trusted, true))
		return nil
	}
	if err := s.WalkChains(ctx, appID, sessionID, check); err != nil {
		return AuditReport{}, err
	}
	// A receipt's session is checked even when the filters left it out; one
	// that is not in the database at all was removed.
	for _, r := range receipts {
		rs, ok := pending[r.SessionID]
		if !ok {
			continue
		}
		if err := s.WalkChains(ctx, "", r.SessionID, check); err != nil {
			return AuditReport{}, err
		}
		if _, ok := pending[r.SessionID]; ok {
			delete(pending, r.SessionID)
			rep.Receipts += len(rs)
			rep.Broken = append(rep.Broken, kycreview.ChainBreak{SessionID: r.SessionID, Seq: 1,
				Reason: "the session is gone: a receipt covers seq " + strconv.FormatInt(rs[0].Seq, 10) + " of it"})
			rep.OK = false
		}
	}
	return rep, nil
}
