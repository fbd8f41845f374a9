package service

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	ctx := context.Background()

	// Holders of one key are exclusive; the count of concurrent holders
	// never exceeds one however the goroutines interleave.
	var inside, maxInside int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := k.lock(ctx, "a")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			inside++
			maxInside = max(maxInside, inside)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			inside--
			mu.Unlock()
			unlock()
		}()
	}
	wg.Wait()
	if maxInside != 1 {
		t.Errorf("%d holders at once, want 1", maxInside)
	}

	// Different keys do not wait for each other.
	unlockA, _ := k.lock(ctx, "a")
	done := make(chan struct{})
	go func() {
		unlockB, err := k.lock(ctx, "b")
		if err == nil {
			unlockB()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal(`locking "b" waited for "a"`)
	}

	// A waiter gives up when its context ends, and leaves nothing behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := k.lock(cctx, "a"); err != context.Canceled {
		t.Errorf("lock with a cancelled context: %v", err)
	}
	unlockA()
	k.mu.Lock()
	left := len(k.m)
	k.mu.Unlock()
	if left != 0 {
		t.Errorf("%d entries left after every holder released", left)
	}
}
