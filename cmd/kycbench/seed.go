package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kycreview/kycreview/internal/service"
)

// dataset is a seeded database, ready for a server to be started on it.
type dataset struct {
	DBURL      string // serve --db
	Token      string // the application's client API key
	SessionIDs []string
	Sessions   int
	Rows       int // feed rows per session
	SeedTime   time.Duration
	SizeBytes  int64
	Durability string // the durability settings, as the service's connections see them
}

// seedSpec is what the set-based seeding SQL of either backend needs.
type seedSpec struct {
	AppID      string
	WorkflowID string // the application's user (KYC) workflow
	KeyID      string // the key the API-client rows name as their actor
	Sessions   int
	Rows       int
	// T0 is when session 0 was created, whole seconds. Session s was
	// created at T0+s seconds and feed row i (in the order of generation,
	// see below) at T0+i+30 seconds, so every row lies in the past and the
	// service's next row for a session is stamped now.
	T0 time.Time
}

// newSeedSpec creates the application through the service, so that its API
// key is real and hashed as in production, and returns the spec that the
// bulk SQL fills the application with.
func newSeedSpec(ctx context.Context, store service.Store, sessions, rows int, now time.Time) (seedSpec, string, error) {
	app, err := service.New(store, time.Now).CreateApplication(ctx, "kycbench")
	if err != nil {
		return seedSpec{}, "", fmt.Errorf("create the application: %w", err)
	}
	span := time.Duration(sessions*rows+30) * time.Second
	return seedSpec{
		AppID:      app.Application.ID,
		WorkflowID: app.Workflows["user"].ID,
		KeyID:      app.KeyID,
		Sessions:   sessions,
		Rows:       rows,
		T0:         now.Add(-span - time.Hour).UTC().Truncate(time.Second),
	}, app.Token, nil
}

// sessionID is the id of seeded session s. The first group is s scrambled
// by a multiplicative hash (a bijection on 32 bits), so that the order of
// ids, and so of the id index, is unrelated to the order of creation, as it
// is with random UUIDs; the last group keeps ids unique beyond 2³² sessions.
// The SQL of both backends computes the same ids (sessionIDSQL).
func sessionID(s int) string {
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(uint64(s)*2654435761), s)
}

// sessionIDs returns the ids of sessions 0…n-1.
func sessionIDs(n int) []string {
	ids := make([]string, n)
	for s := range ids {
		ids[s] = sessionID(s)
	}
	return ids
}

// The feed rows. Row 1 of every session is the verification pipeline
// sending it to review; the rows after it are API-client reviews cycling
// through In Review → Approved → Declined, each with a comment, so a page
// holds what a real one does: both actor kinds, status snapshots, text.
const systemComment = "Document glare: automatic check inconclusive."

// reviewStatuses are the statuses rows 1, 2, 3… set, in turn, with the
// comment each review leaves.
var reviewStatuses = [3]struct{ status, comment string }{
	{"In Review", "Customer sent a clearer scan of the back of the card; another look needed."},
	{"Approved", "Address matches the utility bill and the selfie matches the document photo."},
	{"Declined", "Selfie does not match the document photo; liveness check failed twice."},
}

// finalStatus is the status of a session after rows rows.
func finalStatus(rows int) string { return reviewStatuses[(rows-1)%3].status }

// statusCase renders SQL choosing reviewStatuses[expr % 3] (field status or
// comment): a CASE rather than a join to a VALUES list, so that both
// databases insert rows in the order they are generated.
func statusCase(expr string, comment bool) string {
	var b strings.Builder
	b.WriteString("CASE (" + expr + ") % 3")
	for k, st := range reviewStatuses {
		v := st.status
		if comment {
			v = st.comment
		}
		if k < len(reviewStatuses)-1 {
			fmt.Fprintf(&b, " WHEN %d THEN '%s'", k, v)
		} else {
			fmt.Fprintf(&b, " ELSE '%s' END", v)
		}
	}
	return b.String()
}

// dialect is the SQL that differs between the backends in feedRowsSelect.
type dialect struct {
	id            string              // a UUID per row, as text
	asUUID        func(string) string // turns the text id into the id column's type
	actorID       string              // the key id, as a literal of the column's type
	createdAt     string              // the row's time, from i
	changedFields string              // ["status"] as a literal of the column's type
	json          func(string) string // turns a text expression into the JSON column's type
	// timeText renders the created_at expression as the feed shows it
	// (kycreview.FormatMicro); seeded times are whole seconds, so no fraction.
	timeText func(string) string
}

// feedRowsSelect is the SELECT, common to both dialects, that turns row
// numbers i (from the relation n) into the columns of activities:
// session s = i % sessions, seq g = i / sessions + 1. Generating the rows
// round by round (every session's row 1, then every session's row 2…) is
// time order, the order in which a live service writes them: one session's
// rows lie far apart in the table, as they do after months of traffic, not
// side by side as a per-session bulk load would put them.
func feedRowsSelect(spec seedSpec, d dialect) string {
	prev := "CASE WHEN g = 1 THEN 'In Progress' ELSE " + statusCase("g - 2", false) + " END"
	next := statusCase("g - 1", false)
	// entry is the row as the feed shows it, built here as
	// kycreview.Activity.EntryJSON renders it (seed_test checks they agree
	// byte for byte): every value is plain ASCII without quotes, so
	// concatenation is exact.
	entry := `'{"uuid":"' || rid || '","activity_type":"STATUS_UPDATED","actor_display":"' || disp ||
		'","actor_email":null,"actor_type":"' || atype || '","new_status":"' || nw || '","previous_status":"' || pv ||
		'","comment":"' || cm || '","mentioned_emails":[],"previous_value":{"status":"' || pv ||
		'"},"new_value":{"status":"' || nw || '"},"changed_fields":["status"],"metadata":null,"created_at":"' || ` +
		d.timeText("ca") + ` || '"}'`
	return fmt.Sprintf(`SELECT `+d.asUUID("rid")+`, s + 1, g, 'STATUS_UPDATED', atype, CASE WHEN g = 1 THEN NULL ELSE %[2]s END, disp,
		pv, nw, cm, %[5]s, %[6]s, %[7]s, ca, %[12]s
	FROM (SELECT i, s, g, %[1]s AS rid, %[9]s AS pv, %[10]s AS nw, %[8]s AS ca,
			CASE WHEN g = 1 THEN '%[3]s' ELSE %[4]s END AS cm,
			CASE WHEN g = 1 THEN 'SYSTEM' ELSE 'API_KEY' END AS atype,
			CASE WHEN g = 1 THEN 'System' ELSE 'API Client' END AS disp
		FROM (SELECT i, i %% %[11]d AS s, i / %[11]d + 1 AS g FROM n) AS r) AS f`,
		d.id, d.actorID, systemComment, statusCase("g - 1", true),
		d.json(`'{"status":"' || pv || '"}'`), d.json(`'{"status":"' || nw || '"}'`), d.changedFields, d.createdAt,
		prev, next, spec.Sessions, entry)
}

// activityColumns are the columns feedRowsSelect fills, in its order.
const activityColumns = `id, session_pk, seq, activity_type, actor_type, actor_id, actor_display,
	previous_status, new_status, comment, previous_value, new_value, changed_fields, created_at, entry`
