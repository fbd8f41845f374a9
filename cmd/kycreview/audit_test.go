package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/client"
	"github.com/kycreview/kycreview/internal/postgres/pgtest"
	"github.com/kycreview/kycreview/internal/service"
)

// TestAuditCommands walks the audit tools end to end on each database:
// keygen, checkpoint, verify, export and verify --file, a receipt, and an
// attacker who rewrites a comment and later cuts the chain's tail.
func TestAuditCommands(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testAuditCommands(t, "sqlite:"+filepath.Join(t.TempDir(), "kyc.db")) })
	t.Run("postgres", func(t *testing.T) { testAuditCommands(t, pgtest.URL(t)) })
}

func testAuditCommands(t *testing.T, db string) {
	ctx := context.Background()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.pem")
	env := map[string]string{"KYCREVIEW_DB": db}

	gen := mustJSON(t, env, "audit", "keygen", "--out", keyFile)
	if len(gen["key_id"].(string)) != 16 || gen["public_key"] == "" {
		t.Fatalf("keygen printed %v", gen)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", st, err)
	}
	if _, err := cli(t, env, "audit", "keygen", "--out", keyFile); err == nil {
		t.Fatal("keygen overwrote a key")
	}
	if _, err := cli(t, env, "audit", "checkpoint"); exitCode(err) != 2 {
		t.Fatalf("checkpoint without a key: %v", err)
	}
	env["KYCREVIEW_AUDIT_KEY_FILE"] = keyFile

	app := mustJSON(t, env, "apps", "create", "--name", "Audited")
	appID := app["application_id"].(string)
	store, err := openStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	k, err := kycreview.ParseAuditKey(mustRead(t, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	svc := service.New(store, time.Now, service.WithAuditKey(k))
	key, err := svc.Authenticate(ctx, app["api_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	workflow := app["workflows"].(map[string]any)["user"].(string)
	var sessions []string
	for i := range 2 {
		sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: workflow})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, sess.ID)
		for j := range 4 + i {
			st := []kycreview.Status{kycreview.StatusInReview, kycreview.StatusApproved}[j%2]
			c := "checked <" + string(st) + "> & noted"
			if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &st, Comment: &c}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	victim := sessions[0]

	cp := mustJSON(t, env, "audit", "checkpoint")
	if cp["checkpoints"] != 2.0 || cp["key_id"] != gen["key_id"] {
		t.Fatalf("checkpoint printed %v", cp)
	}
	if cp := mustJSON(t, env, "audit", "checkpoint"); cp["checkpoints"] != 0.0 {
		t.Fatalf("second checkpoint printed %v", cp)
	}
	rep := mustJSON(t, env, "audit", "verify", "--app", appID)
	if rep["ok"] != true || rep["sessions"] != 2.0 || rep["rows"] != 9.0 || rep["checkpoints"] != 2.0 {
		t.Fatalf("verify printed %v", rep)
	}

	// A receipt, as GET …/reviews/proof/ gives it.
	proof, err := svc.Proof(ctx, key, victim)
	if err != nil {
		t.Fatal(err)
	}
	receipt := filepath.Join(dir, "receipt.json")
	writeJSONFile(t, receipt, proof.JSON())
	if rep := mustJSON(t, env, "audit", "verify", "--receipt", receipt); rep["ok"] != true || rep["receipts"] != 1.0 || rep["sessions"] != 1.0 {
		t.Fatalf("verify --receipt printed %v", rep)
	}

	// An export verifies offline, with the key or with the one it names.
	export := filepath.Join(dir, "export.jsonl")
	if out := mustJSON(t, env, "audit", "export", "--app", appID, "--out", export); out["rows"] != 9.0 || out["checkpoints"] != 2.0 {
		t.Fatalf("export printed %v", out)
	}
	checkExportLines(t, export)
	if rep := mustJSON(t, env, "audit", "verify", "--file", export, "--receipt", receipt); rep["ok"] != true || rep["key_trusted"] != true || rep["checkpoints"] != 2.0 {
		t.Fatalf("verify --file printed %v", rep)
	}
	noKey := map[string]string{"KYCREVIEW_DB": db}
	if rep := mustJSON(t, noKey, "audit", "verify", "--file", export); rep["ok"] != true || rep["key_trusted"] != false {
		t.Fatalf("verify --file without a key printed %v", rep)
	}
	single := filepath.Join(dir, "single.jsonl")
	mustJSON(t, env, "audit", "export", "--session", victim, "--out", single)
	out, err := cli(t, env, "audit", "export", "--session", victim)
	if err != nil || strings.Count(out, "\n") != 1+1+4+1 {
		t.Fatalf("export to stdout: %v\n%s", err, out)
	}

	// The attacker rewrites a comment, feed entry included.
	pk := "(SELECT pk FROM sessions WHERE id = '" + victim + "')"
	attack(t, store, `DROP TRIGGER activities_no_update; DROP TRIGGER activities_no_delete`,
		`DROP TRIGGER activities_no_update_delete ON activities; DROP TRIGGER activities_no_truncate ON activities`)
	attack(t, store, `UPDATE activities SET comment = 'nothing to see', entry = replace(entry, 'checked', 'nothing')
		WHERE session_pk = `+pk+` AND seq = 2`)
	wantBroken(t, env, victim, 2, "audit", "verify", "--app", appID)
	// The export taken before still verifies: it is the customer's copy.
	mustJSON(t, env, "audit", "verify", "--file", single)

	// An export altered after the fact does not.
	forged := filepath.Join(dir, "forged.jsonl")
	data := strings.Replace(string(mustRead(t, single)), `"comment":"checked <Approved> & noted"`, `"comment":"forged"`, 1)
	if err := os.WriteFile(forged, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	wantBroken(t, env, victim, 2, "audit", "verify", "--file", forged)
}

func attack(t *testing.T, store service.Store, sqls ...string) {
	t.Helper()
	raw, ok := store.(interface {
		ExecRaw(context.Context, string) error
	})
	if !ok {
		t.Fatalf("%T has no ExecRaw", store)
	}
	var err error
	for _, q := range sqls {
		if err = raw.ExecRaw(context.Background(), q); err == nil {
			return
		}
	}
	t.Fatalf("attack: %v", err)
}

// wantBroken runs a verify that must fail and report one broken chain.
func wantBroken(t *testing.T, env map[string]string, session string, seq int64, args ...string) {
	t.Helper()
	out, err := cli(t, env, args...)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("%v: err %v, want exit status 1\n%s", args, err, out)
	}
	var rep struct {
		OK     bool
		Broken []kycreview.ChainBreak
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v printed %q: %v", args, out, err)
	}
	if rep.OK || len(rep.Broken) != 1 || rep.Broken[0].SessionID != session || rep.Broken[0].Seq != seq {
		t.Fatalf("%v printed %s, want one break in %s at seq %d", args, out, session, seq)
	}
}

func checkExportLines(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types[l["type"].(string)]++
		if l["type"] == "activity" && (len(l["hash"].(string)) != 64 || l["previous_value"] == nil) {
			t.Errorf("activity line %s", sc.Text())
		}
		if l["type"] == "header" && l["public_key"] == nil {
			t.Errorf("header without the public key: %s", sc.Text())
		}
	}
	if types["header"] != 1 || types["session"] != 2 || types["activity"] != 9 || types["checkpoint"] != 2 {
		t.Errorf("export lines: %v", types)
	}
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServeSignsCheckpoints: serve with a key answers signed proofs and
// signs the chains that changed in the background.
func TestServeSignsCheckpoints(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "kyc.db")
	keyFile := filepath.Join(dir, "audit.pem")
	env := map[string]string{"KYCREVIEW_DB": db, "KYCREVIEW_AUDIT_KEY_FILE": keyFile}
	mustJSON(t, env, "audit", "keygen", "--out", keyFile)
	app := mustJSON(t, env, "apps", "create", "--name", "Served")
	srv := startServer(t, db, "--audit-key-file", keyFile, "--audit-checkpoint-interval", "50ms")

	c := client.New("http://"+srv.addr, app["api_key"].(string))
	ctx := context.Background()
	sess, err := c.CreateSession(ctx, client.CreateSessionRequest{WorkflowID: app["workflows"].(map[string]any)["user"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateReview(ctx, sess.SessionID, client.ReviewRequest{NewStatus: "Approved"}); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+srv.addr+"/v3/sessions/"+sess.SessionID+"/reviews/proof/", nil)
	req.Header.Set("x-api-key", app["api_key"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p kycreview.CheckpointJSON
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil || res.StatusCode != 200 || p.Signature == nil || p.Seq != 1 {
		t.Fatalf("proof: %d %+v %v", res.StatusCode, p, err)
	}
	receipt := filepath.Join(dir, "receipt.json")
	writeJSONFile(t, receipt, p)

	deadline := time.Now().Add(20 * time.Second)
	for {
		rep := mustJSON(t, env, "audit", "verify", "--receipt", receipt)
		if rep["ok"] != true {
			t.Fatalf("verify printed %v", rep)
		}
		if rep["checkpoints"] == 1.0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint signed by serve: %v", rep)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
