package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, to read PostgreSQL directly

	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
)

// The crash test's shape: crashWorkers clients post reviews without a
// pause to crashSessions sessions, and the server is killed crashKills
// times, each time after a random number of acknowledged reviews and while
// requests are in flight.
const (
	crashKills    = 6
	crashWorkers  = 6
	crashSessions = 24
)

// TestReviewsSurviveSIGKILL kills the server with SIGKILL again and again
// under a continuous load of reviews, starts it again on the same database
// each time, and checks, through the API and in the database itself, that
// nothing acknowledged was lost and nothing was half written: every review
// answered 201 is in its session's feed exactly once, and a review whose
// request died with the server is there at most once; every feed's seq runs
// 1…n with no gap and matches the session's count and status; every status
// row has its outbox event, every event its webhook delivery, every mention
// its notification; the audit chains verify; on SQLite, integrity_check and
// foreign_key_check pass. It runs on SQLite and on PostgreSQL.
func TestReviewsSurviveSIGKILL(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testReviewsSurviveSIGKILL(t, "sqlite:"+filepath.Join(t.TempDir(), "kycreview.db"))
	})
	t.Run("postgres", func(t *testing.T) { testReviewsSurviveSIGKILL(t, pgtest.URL(t)) })
}

// crashReview is one review a client sent, and what became of its request.
type crashReview struct {
	session string
	status  string
	comment string
	mention bool
	// answer is the HTTP status the server gave, 0 while none came (the
	// request is in flight, or died with the server).
	answer int
	detail string
}

// crashLedger is every review sent, by the token that starts its comment.
type crashLedger struct {
	mu      sync.Mutex
	reviews map[string]*crashReview
}

func (l *crashLedger) add(token string, r *crashReview) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reviews[token] = r
}

func (l *crashLedger) answer(r *crashReview, status int, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r.answer, r.detail = status, detail
}

// crashLoad is one round of load, against one server process.
type crashLoad struct {
	inflight atomic.Int64 // requests sent and not yet answered
	created  atomic.Int64 // 201s
	lost     atomic.Int64 // requests started before the kill that got no answer
	killed   atomic.Bool
	stopped  atomic.Bool
	wg       sync.WaitGroup
}

// crashFixture is the application, sessions and settings the test shares
// across restarts.
type crashFixture struct {
	db       string
	key      string
	email    string
	keyFile  string
	flags    []string
	sessions []string
	ledger   crashLedger
	http     *http.Client
}

func testReviewsSurviveSIGKILL(t *testing.T, db string) {
	nf := newNotifyFixture(t, db, 1)
	f := &crashFixture{db: db, key: nf.key, email: nf.emails[0], ledger: crashLedger{reviews: map[string]*crashReview{}}}
	f.keyFile = filepath.Join(t.TempDir(), "audit-key.pem")
	mustJSON(t, nil, "audit", "keygen", "--out", f.keyFile)

	var delivered atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()

	// Rate limits off (the load is far above them); deliveries and audit
	// checkpoints on, so their writes are under the kills too.
	f.flags = []string{"--rate-limit-write", "0", "--rate-limit-get", "0",
		"--webhook-allow-http", "--webhook-allow", "127.0.0.1/32", "--webhook-retries", "200ms*100",
		"--audit-key-file", f.keyFile, "--audit-checkpoint-interval", "200ms"}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = crashWorkers
	f.http = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()

	p := startServer(t, db, f.flags...)
	base := "http://" + p.addr
	createDestination(t, base, f.key, rc.URL+"/hook")
	c := client.New(base, f.key, client.WithHTTPClient(f.http))
	for range crashSessions {
		s, err := c.CreateSession(context.Background(), client.CreateSessionRequest{WorkflowID: nf.workflow})
		if err != nil {
			t.Fatal(err)
		}
		f.sessions = append(f.sessions, s.SessionID)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill timing seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	var lost int64
	for kill := range crashKills {
		load := f.startLoad(base, kill)
		t.Cleanup(load.stop) // if the test stops early
		// Let a random number of reviews through, then a random moment
		// more, and kill while at least one request is in flight.
		want := int64(30 + rng.IntN(90))
		waitFor(t, 60*time.Second, fmt.Sprintf("kill %d: %d reviews acknowledged", kill+1, want), func() bool {
			return load.created.Load() >= want
		})
		time.Sleep(time.Duration(rng.IntN(30)) * time.Millisecond)
		waitFor(t, 10*time.Second, "a request in flight", func() bool { return load.inflight.Load() > 0 })
		load.killed.Store(true)
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-p.done
		load.stop()
		lost += load.lost.Load()
		t.Logf("kill %d: %d reviews acknowledged by this server; %d requests in flight got no answer",
			kill+1, load.created.Load(), load.lost.Load())

		p = startServer(t, db, f.flags...)
		base = "http://" + p.addr
		f.verify(t, base, kill == crashKills-1)
		if t.Failed() {
			t.FailNow()
		}
	}
	// The kills must have landed mid-request (each one cuts off about
	// crashWorkers requests), or the test proved little.
	if lost < crashKills {
		t.Errorf("the %d kills cut off only %d requests in flight", crashKills, lost)
	}
	if delivered.Load() == 0 {
		t.Error("the webhook receiver got nothing: the dispatcher did not run")
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// startLoad starts crashWorkers clients posting reviews to base until stop.
func (f *crashFixture) startLoad(base string, round int) *crashLoad {
	load := &crashLoad{}
	c := client.New(base, f.key, client.WithHTTPClient(f.http))
	statuses := []string{"In Review", "Approved", "Declined"}
	for w := range crashWorkers {
		load.wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
			for n := 0; !load.stopped.Load(); n++ {
				token := fmt.Sprintf("crash-%d-%d-%d", round, w, n)
				r := &crashReview{session: f.sessions[rng.IntN(len(f.sessions))], status: statuses[rng.IntN(len(statuses))],
					comment: token, mention: rng.IntN(4) == 0}
				if r.mention {
					r.comment += " @" + f.email + " please look at the address"
				}
				f.ledger.add(token, r)
				before := load.killed.Load()
				load.inflight.Add(1)
				got, err := c.CreateReview(context.Background(), r.session, client.ReviewRequest{NewStatus: r.status, Comment: &r.comment})
				load.inflight.Add(-1)
				var apiErr *client.APIError
				switch {
				case err == nil:
					detail := ""
					if got.NewStatus != r.status || got.Comment == nil || *got.Comment != r.comment {
						detail = fmt.Sprintf("answer %+v does not match the request", got)
					}
					f.ledger.answer(r, http.StatusCreated, detail)
					load.created.Add(1)
				case errors.As(err, &apiErr):
					f.ledger.answer(r, apiErr.StatusCode, apiErr.Error())
				default:
					// No answer: the server died (or was dead already).
					if !before && load.killed.Load() {
						load.lost.Add(1)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
		})
	}
	return load
}

func (l *crashLoad) stop() {
	l.stopped.Store(true)
	l.wg.Wait()
}

// crashRow is one feed row as the database holds it, with the rows that
// must have been written in its transaction.
type crashRow struct {
	seq           int64
	id            string
	comment       string
	newStatus     string
	events        int64 // webhook_outbox rows for it
	deliveries    int64 // webhook_deliveries rows of those events
	notifications int64
}

// crashSession is a session as the database holds it.
type crashSession struct {
	status        string
	activityCount int64
	rows          []crashRow
}

// verify checks the database after a restart, through the API of the
// server at base and directly.
func (f *crashFixture) verify(t *testing.T, base string, last bool) {
	t.Helper()
	ctx := context.Background()
	c := client.New(base, f.key, client.WithHTTPClient(f.http))

	// Through the API: every session's whole feed, oldest first.
	feeds := map[string][]client.FeedEntry{}
	for _, id := range f.sessions {
		for e, err := range c.FeedEntries(ctx, id, client.FeedParams{Limit: 1000, Ordering: "created_at"}) {
			if err != nil {
				t.Fatalf("feed of %s after the restart: %v", id, err)
			}
			feeds[id] = append(feeds[id], e)
		}
	}

	// In the database.
	stored := readCrashDB(t, f.db)
	if len(stored) != len(f.sessions) {
		t.Errorf("the database has %d sessions, want %d", len(stored), len(f.sessions))
	}
	inDB := map[string][]string{} // token → sessions holding a row with it
	for id, s := range stored {
		if int64(len(s.rows)) != s.activityCount {
			t.Errorf("session %s: %d feed rows, activity_count %d", id, len(s.rows), s.activityCount)
		}
		for i, r := range s.rows {
			if r.seq != int64(i+1) {
				t.Errorf("session %s: row %d has seq %d: the feed's seq is not contiguous", id, i+1, r.seq)
				break
			}
			if r.newStatus == "" {
				t.Errorf("session %s seq %d: a review row without a status", id, r.seq)
			} else if r.events != 1 || r.deliveries != 1 {
				t.Errorf("session %s seq %d (%s): %d outbox events and %d webhook deliveries, want 1 and 1",
					id, r.seq, r.newStatus, r.events, r.deliveries)
			}
			token, _, _ := strings.Cut(r.comment, " ")
			inDB[token] = append(inDB[token], id)
			wantNotes := int64(0)
			if strings.Contains(r.comment, "@"+f.email) {
				wantNotes = 1
			}
			if r.notifications != wantNotes {
				t.Errorf("session %s seq %d: %d notifications, want %d (comment %q)", id, r.seq, r.notifications, wantNotes, r.comment)
			}
		}
		if n := len(s.rows); n > 0 && s.status != s.rows[n-1].newStatus {
			t.Errorf("session %s: status %q, but its last review set %q", id, s.status, s.rows[n-1].newStatus)
		}
		// The API shows the same rows, in seq order.
		api := feeds[id]
		if len(api) != len(s.rows) {
			t.Errorf("session %s: the API shows %d feed rows, the database has %d", id, len(api), len(s.rows))
			continue
		}
		for i, e := range api {
			if e.UUID != s.rows[i].id || e.Comment == nil || *e.Comment != s.rows[i].comment {
				t.Errorf("session %s: the API's feed row %d is %s %v, the database's seq %d is %s %q",
					id, i, e.UUID, e.Comment, s.rows[i].seq, s.rows[i].id, s.rows[i].comment)
				break
			}
		}
	}

	// Against what the clients were told.
	f.ledger.mu.Lock()
	var acked, unanswered, unansweredKept int
	for token, r := range f.ledger.reviews {
		where := inDB[token]
		switch {
		case r.answer == http.StatusCreated:
			acked++
			if len(where) != 1 || where[0] != r.session {
				t.Errorf("review %s was acknowledged (201) on session %s, but is in the feeds of %v", token, r.session, where)
			}
			if r.detail != "" {
				t.Errorf("review %s: %s", token, r.detail)
			}
		case r.answer == 0:
			unanswered++
			if len(where) > 1 || (len(where) == 1 && where[0] != r.session) {
				t.Errorf("review %s got no answer and is in the feeds of %v (sent to %s): at most once, there", token, where, r.session)
			}
			if len(where) == 1 {
				unansweredKept++
			}
		default:
			t.Errorf("review %s was answered %d: %s", token, r.answer, r.detail)
			if len(where) > 0 {
				t.Errorf("review %s was refused but is in the feeds of %v", token, where)
			}
		}
	}
	for token, where := range inDB {
		if f.ledger.reviews[token] == nil {
			t.Errorf("a feed row no client sent: %q in %v", token, where)
		}
	}
	f.ledger.mu.Unlock()
	t.Logf("after the restart: %d reviews acknowledged, all there; %d unanswered, %d of them committed",
		acked, unanswered, unansweredKept)

	// The audit chains, with the checkpoints the server signed.
	out, err := cli(t, nil, "audit", "verify", "--db", f.db, "--audit-key-file", f.keyFile)
	var rep struct {
		OK          bool
		Rows        int
		Checkpoints int
	}
	if jerr := json.Unmarshal([]byte(out), &rep); err != nil || jerr != nil || !rep.OK {
		t.Errorf("audit verify: %v %v\n%s", err, jerr, out)
	}
	if last && rep.Checkpoints == 0 {
		t.Errorf("audit verify checked no checkpoint: %s", out)
	}

	if path, ok := strings.CutPrefix(f.db, "sqlite:"); ok {
		checkSQLiteFile(t, path)
	}
}

// readCrashDB reads every session and its feed rows straight from the
// database, with the outbox events, deliveries and notifications each
// row's transaction wrote, in one transaction (one snapshot).
func readCrashDB(t *testing.T, db string) map[string]*crashSession {
	t.Helper()
	conn := openTestDB(t, db)
	defer conn.Close()
	tx, err := conn.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // read only
	query := func(q string, scan func(*sql.Rows) error) {
		t.Helper()
		rows, err := tx.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Keyed by the rows' primary keys: each table is read once.
	type rowKey struct{ session, seq int64 }
	events := map[rowKey][]int64{} // feed row → its events
	query(`SELECT session_pk, seq, pk FROM webhook_outbox`, func(r *sql.Rows) error {
		var k rowKey
		var pk int64
		err := r.Scan(&k.session, &k.seq, &pk)
		events[k] = append(events[k], pk)
		return err
	})
	deliveries := map[int64]int64{} // event → its deliveries
	query(`SELECT event_pk FROM webhook_deliveries`, func(r *sql.Rows) error {
		var pk int64
		err := r.Scan(&pk)
		deliveries[pk]++
		return err
	})
	notifications := map[int64]int64{} // activity → its notifications
	query(`SELECT activity_pk FROM notifications`, func(r *sql.Rows) error {
		var pk int64
		err := r.Scan(&pk)
		notifications[pk]++
		return err
	})

	out := map[string]*crashSession{}
	query(`SELECT CAST(s.id AS TEXT), s.status, s.activity_count, s.pk,
		a.pk, a.seq, CAST(a.id AS TEXT), COALESCE(a.comment, ''), COALESCE(a.new_status, '')
		FROM sessions s LEFT JOIN activities a ON a.session_pk = s.pk
		ORDER BY s.pk, a.seq`, func(rows *sql.Rows) error {
		var id string
		var s crashSession
		var sessionPK int64
		var pk, seq sql.NullInt64
		var rowID sql.NullString
		var r crashRow
		if err := rows.Scan(&id, &s.status, &s.activityCount, &sessionPK, &pk, &seq, &rowID, &r.comment, &r.newStatus); err != nil {
			return err
		}
		if out[id] == nil {
			out[id] = &s
		}
		if seq.Valid {
			r.seq, r.id = seq.Int64, rowID.String
			evs := events[rowKey{sessionPK, seq.Int64}]
			r.events = int64(len(evs))
			for _, e := range evs {
				r.deliveries += deliveries[e]
			}
			r.notifications = notifications[pk.Int64]
			out[id].rows = append(out[id].rows, r)
		}
		return nil
	})
	return out
}

// openTestDB opens a --db URL with database/sql, to read it directly.
func openTestDB(t *testing.T, db string) *sql.DB {
	t.Helper()
	var conn *sql.DB
	var err error
	if path, ok := strings.CutPrefix(db, "sqlite:"); ok {
		conn, err = sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	} else {
		conn, err = sql.Open("pgx", db)
	}
	if err != nil {
		t.Fatal(err)
	}
	conn.SetMaxOpenConns(1)
	return conn
}

// checkSQLiteFile runs SQLite's own checks of the file: the b-trees and
// indexes (integrity_check) and every foreign key (foreign_key_check).
func checkSQLiteFile(t *testing.T, path string) {
	t.Helper()
	conn := openTestDB(t, "sqlite:"+path)
	defer conn.Close()
	var problems []string
	rows, err := conn.Query("PRAGMA integrity_check")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		problems = append(problems, s)
	}
	rows.Close()
	if len(problems) != 1 || problems[0] != "ok" {
		t.Errorf("integrity_check: %v", problems)
	}
	rows, err = conn.Query("PRAGMA foreign_key_check")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if n != 0 {
		t.Errorf("foreign_key_check found %d rows whose foreign key points nowhere", n)
	}
}

// createDestination adds a webhook destination for status.updated events
// through the API.
func createDestination(t *testing.T, base, key, url string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"url": url, "label": "test receiver", "subscribed_events": []string{"status.updated"}})
	req, _ := http.NewRequest(http.MethodPost, base+"/v3/webhook/destinations/", bytes.NewReader(body))
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create destination: %d %s", resp.StatusCode, out)
	}
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
