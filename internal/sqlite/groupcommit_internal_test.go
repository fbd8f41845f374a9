package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func openInternal(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "gc.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func createApp(name string) func(service.Tx) error {
	return func(st service.Tx) error {
		return st.CreateApplication(context.Background(), kycreview.Application{ID: uuid.NewString(), Name: name, CreatedAt: time.Unix(0, 0)})
	}
}

func appNames(t *testing.T, db *DB) map[string]bool {
	t.Helper()
	rows, err := db.reader.Query(`SELECT name FROM applications`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[n] = true
	}
	return out
}

func job(fn func(service.Tx) error) *writeJob {
	return &writeJob{ctx: context.Background(), fn: fn, done: make(chan error, 1)}
}

// TestBatchLostTransaction: a write that loses the shared transaction (here
// by ending it, as an I/O error makes SQLite do) fails alone; the others in
// its batch are run again and succeed.
func TestBatchLostTransaction(t *testing.T) {
	db := openInternal(t)
	culprit := errors.New("disk gone")
	batch := []*writeJob{
		job(createApp("a")),
		job(func(st service.Tx) error {
			if _, err := st.(*tx).q.ExecContext(context.Background(), "ROLLBACK"); err != nil {
				return err
			}
			return culprit
		}),
		job(createApp("c")),
	}
	db.runBatch(batch, true)
	if err := <-batch[0].done; err != nil {
		t.Errorf("a: %v", err)
	}
	if err := <-batch[1].done; err != culprit {
		t.Errorf("culprit: %v, want its own error", err)
	}
	if err := <-batch[2].done; err != nil {
		t.Errorf("c: %v", err)
	}
	if got := appNames(t, db); !got["a"] || !got["c"] || len(got) != 2 {
		t.Errorf("stored %v, want a and c", got)
	}
}

// TestBatchCommitFails: when the commit fails, no write of the batch is
// stored and every one that ran is told so.
func TestBatchCommitFails(t *testing.T) {
	db := openInternal(t)
	batch := []*writeJob{
		job(createApp("a")),
		job(func(st service.Tx) error {
			// A foreign key checked only at commit, pointing nowhere.
			if _, err := st.(*tx).q.ExecContext(context.Background(), "PRAGMA defer_foreign_keys = ON"); err != nil {
				return err
			}
			return st.CreateWorkflow(context.Background(), kycreview.Workflow{ID: uuid.NewString(), ApplicationID: uuid.NewString(),
				Kind: kycreview.KindUser, Name: "orphan", CreatedAt: time.Unix(0, 0)})
		}),
	}
	db.runBatch(batch, true)
	for i, j := range batch {
		if err := <-j.done; err == nil {
			t.Errorf("job %d: no error although the commit failed", i)
		}
	}
	if got := appNames(t, db); len(got) != 0 {
		t.Errorf("stored %v after a failed commit", got)
	}
}

// TestWritesShareCommits: writes that queue while the writer is busy go out
// in fewer commits than there are writes.
func TestWritesShareCommits(t *testing.T) {
	db := openInternal(t)
	ctx := context.Background()
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = db.WriteTx(ctx, func(st service.Tx) error { <-release; return createApp("first")(st) })
	}()
	for db.batches.Load() == 0 {
		runtime.Gosched() // until the writer runs the first write
	}
	const n = 20
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.WriteTx(ctx, createApp(fmt.Sprint("queued-", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond) // let them queue behind the first
	close(release)
	wg.Wait()
	if got := len(appNames(t, db)); got != n+1 {
		t.Fatalf("%d applications, want %d", got, n+1)
	}
	if b := db.batches.Load(); b >= n+1 {
		t.Errorf("%d commits for %d writes: none shared", b, n+1)
	}
}

// TestWriteThatExitsItsGoroutine: a write calling runtime.Goexit (as
// t.FailNow does) fails, and the writer keeps serving.
func TestWriteThatExitsItsGoroutine(t *testing.T) {
	db := openInternal(t)
	ctx := context.Background()
	if err := db.WriteTx(ctx, func(service.Tx) error { runtime.Goexit(); return nil }); err == nil {
		t.Error("a write that left its goroutine reported success")
	}
	done := make(chan error, 1)
	go func() { done <- db.WriteTx(ctx, createApp("after")) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("write after: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the writer stopped serving")
	}
	if !appNames(t, db)["after"] {
		t.Error("the write after was not stored")
	}
}
