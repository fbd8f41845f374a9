package postgres

import (
	"os"
	"testing"

	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.AnnounceSkip()
	os.Exit(m.Run())
}
