package sqlite

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/service"
)

// TestWALStaysBoundedUnderSteadyWrites: with checkpoints beside the writer
// (walcheckpoint.go), a write load that never pauses must not grow the WAL
// with what it writes. Eight writers keep the writer busy with 16 KiB rows
// until eight times walResetPages of pages have been written; the WAL file,
// sampled all along, must stay under half of that. How far past
// walResetPages it gets depends on how fast rows arrive between two
// checkpoints (84 MiB was seen on this machine), so the bound is a share of
// what was written, not the threshold itself. Without the writer's reset
// between batches the WAL grows to about everything written.
func TestWALStaysBoundedUnderSteadyWrites(t *testing.T) {
	db := openInternal(t)
	ctx := context.Background()
	const rowBytes = 16 << 10
	name := strings.Repeat("x", rowBytes)
	target := int64(8 * walResetPages * 4096)
	var written atomic.Int64
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if st, err := os.Stat(db.path + "-wal"); err == nil && st.Size() > maxWAL.Load() {
				maxWAL.Store(st.Size())
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for written.Load() < target {
				if err := db.WriteTx(ctx, createApp(name)); err != nil {
					failed.Store(err)
					return
				}
				written.Add(rowBytes)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	bound := target / 2
	t.Logf("wrote %d MiB of rows; the WAL peaked at %d MiB (bound %d MiB)", written.Load()>>20, maxWAL.Load()>>20, bound>>20)
	if maxWAL.Load() > bound {
		t.Errorf("the WAL grew to %d bytes under a steady load, want at most %d", maxWAL.Load(), bound)
	}
	// Everything written is there, whether still in the WAL or copied.
	var n int
	if err := db.ReadTx(ctx, func(tx service.Tx) error {
		var err error
		n, err = tx.CountApplications(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if int64(n)*rowBytes != written.Load() {
		t.Errorf("%d applications stored, want %d", n, written.Load()/rowBytes)
	}
}
