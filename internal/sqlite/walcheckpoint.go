package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// WAL checkpoints run beside the writer, not in it. SQLite's automatic
// checkpoint runs inside the commit that pushes the WAL past 1,000 pages, on
// the committing connection: here that is the single writer, so every
// thousandth page of writes stopped all writers while pages were copied
// into the database file and synced (15% of the writer's time under a POST
// load). Instead the writer's automatic checkpoint is off and a goroutine
// with a connection of its own runs PASSIVE checkpoints, which copy what
// they can without taking the write lock, while the writer goes on.
//
// A PASSIVE checkpoint cannot reset the WAL, and the writer resets it (back
// to its first frame) only when it begins a transaction with every frame
// already copied: under a steady load new frames arrive while the copy
// runs, and the WAL would grow for as long as the load lasts. So when a
// checkpoint leaves the WAL longer than walResetPages, the writer itself
// checkpoints between two batches: by then nearly every frame is copied,
// so it is short, and the next transaction starts the WAL over.

const (
	// checkpointInterval is the shortest time between two background
	// checkpoints: each copies every distinct page written since the last
	// one, so fewer checkpoints copy a page rewritten by many commits once.
	checkpointInterval = 250 * time.Millisecond
	// walResetPages is the WAL length (pages of 4 KiB: 32 MiB) past which
	// the writer checkpoints between batches so that the WAL starts over.
	walResetPages = 8192
)

// checkpointLoop runs background checkpoints until the database closes,
// after commits (db.committed), at most once per checkpointInterval.
func (db *DB) checkpointLoop() {
	defer close(db.checkpointerDone)
	for {
		select {
		case <-db.committed:
		case <-db.closing:
			return
		}
		frames, ok := db.checkpoint(context.Background(), db.checkpointer)
		if ok && frames > walResetPages {
			select {
			case db.resetWAL <- struct{}{}:
			default: // already asked
			}
		}
		select {
		case <-time.After(checkpointInterval):
		case <-db.closing:
			return
		}
	}
}

// checkpoint runs a PASSIVE checkpoint on conn and returns the WAL's length
// in pages. ok is false if the checkpoint could not run; it is retried after
// the next commit, and nothing is lost meanwhile: the frames stay in the WAL.
func (db *DB) checkpoint(ctx context.Context, conn *sql.DB) (frames int64, ok bool) {
	var busy, checkpointed int64
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &checkpointed); err != nil {
		return 0, false
	}
	return frames, busy == 0
}

// afterCommit runs on the writer connection after each of its commits,
// with no transaction open: it tells the checkpointer the WAL has grown
// and, if the checkpointer asked, copies the few frames it left, so that
// the next transaction starts the WAL over.
func (db *DB) afterCommit(ctx context.Context) {
	db.noteCommit()
	select {
	case <-db.resetWAL:
		db.checkpoint(ctx, db.writer)
	default:
	}
}

// noteCommit tells the checkpointer that the WAL has grown. It never waits.
func (db *DB) noteCommit() {
	select {
	case db.committed <- struct{}{}:
	default:
	}
}
