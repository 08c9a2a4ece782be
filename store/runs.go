package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCanceled  = "canceled"
)

// Step statuses.
const (
	StepRunning   = "running"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepSkipped   = "skipped"
)

// Trigger types of a run.
const (
	TriggerWebhook = "webhook"
	TriggerCron    = "cron"
	TriggerManual  = "manual"
	TriggerTest    = "test"
	TriggerReplay  = "replay"
	// TriggerCall is a run started by another run's flow.call step.
	TriggerCall = "call"
	// TriggerError is a run of a flow's error flow, started by a run of
	// that flow that failed.
	TriggerError = "error"
)

// Kinds of signal: what ended a step waiting on something outside its run.
const (
	SignalCallback = "callback"
	SignalChild    = "child"
	SignalTimeout  = "timeout"
)

// ErrLeaseLost is returned when a worker writes to a run it no longer holds:
// its lease lapsed and another worker claimed the run.
var ErrLeaseLost = errors.New("lease on the run was lost")

// ErrRunFinished is returned when canceling a run that has already ended.
var ErrRunFinished = errors.New("run has already finished")

// Run is one execution of a flow version.
type Run struct {
	ID          string
	FlowID      string
	FlowVersion int
	Status      string
	TriggerType string
	// Trigger is the trigger's data as JSON.
	Trigger         []byte
	DeliveryID      string
	ReplayOf        string
	Error           string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	AvailableAt     time.Time
	Claims          int
	CancelRequested bool
	// TestOptions are a test run's options as JSON (engine.TestOptions);
	// nil for other runs.
	TestOptions []byte
	// FlowName is the flow's name now; FlowDeleted is set when the flow was
	// deleted since (its runs are kept). Only runs read back carry them.
	FlowName    string
	FlowDeleted bool
	Parent
}

// Parent links a run started by a flow.call step to the run that called
// it. Node, Iteration and Attempt name the calling step when it waits for
// the run, whose end then signals it; Node is empty when it does not.
type Parent struct {
	ParentRunID     string
	ParentNode      string
	ParentIteration string
	ParentAttempt   int
	// CallDepth counts the calls that led to the run: 0 for a run not
	// started by a call.
	CallDepth int
}

// Finished reports whether the run has ended.
func (r *Run) Finished() bool {
	return r.Status == RunSucceeded || r.Status == RunFailed || r.Status == RunCanceled
}

// NewRun is a run to enqueue.
type NewRun struct {
	FlowID      string
	FlowVersion int
	TriggerType string
	Trigger     []byte
	DeliveryID  string
	ReplayOf    string
	// Owner, when set, is the worker that takes the run on at once: the
	// run is stored already claimed by it, and no claim need be committed.
	Owner string
	// ID, when set, is the new run's id (a UUIDv7): a caller that records
	// the id before the run is stored picks it. Empty: the store picks.
	ID string
	// TestOptions are a test run's options as JSON (engine.TestOptions).
	TestOptions []byte
	Parent
}

// Signal ends a step waiting on something outside its run: a request to a
// resume URL (SignalCallback), the end of a called run (SignalChild) or the
// wait's timeout (SignalTimeout). A step takes one signal, the first.
type Signal struct {
	RunID     string
	NodeID    string
	Iteration string
	Attempt   int
	Kind      string
	// Payload is JSON: the callback's data, or the called run's result.
	Payload   []byte
	CreatedAt time.Time
}

// Step is one attempt of one node of a run.
type Step struct {
	RunID     string
	NodeID    string
	Iteration string
	Attempt   int
	Seq       int
	Status    string
	// Port is the port the step activated: "" for the unnamed output, nil
	// for none.
	Port  *string
	Input []byte
	// InputFrom, when set, names the node (in the same iteration) whose
	// output was the step's input; Input is then empty: kept once.
	InputFrom string
	Output    []byte
	Error     string
	// Logs is the step's log lines as a JSON array.
	Logs        []byte
	Interrupted bool
	ResumeAt    *time.Time
	StartedAt   time.Time
	Duration    time.Duration
	// ChildRunID is the run a flow.call step started.
	ChildRunID string
}

// RunFilter selects runs for ListRuns, newest first.
type RunFilter struct {
	FlowID string
	Status string
	// Since and Until bound created_at: Since ≤ created_at < Until.
	Since, Until time.Time
	// ParentRunID selects the runs started by that run's flow.call steps.
	ParentRunID string
	// Unfinished selects the queued and running runs.
	Unfinished bool
	// Before continues a listing after the run with this id.
	Before string
	Limit  int
}

type runRow struct {
	ID              string `gorm:"primaryKey"`
	FlowID          string
	FlowVersion     int
	Status          string
	TriggerType     string
	TriggerData     string
	DeliveryID      *string
	ReplayOf        *string
	Error           string
	CreatedAt       time.Time
	StartedAt       *time.Time
	FinishedAt      *time.Time
	AvailableAt     time.Time
	LeaseOwner      *string
	Claims          int
	CancelRequested bool
	ParentRunID     *string
	ParentNode      *string
	ParentIteration string
	ParentAttempt   int
	CallDepth       int
	TestOptions     *string
	FlowName        string `gorm:"->"`
	FlowDeleted     bool   `gorm:"->"`
}

func (runRow) TableName() string { return "runs" }

func (r *runRow) record() *Run {
	return &Run{
		ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: r.Status, TriggerType: r.TriggerType,
		Trigger: []byte(r.TriggerData), DeliveryID: deref(r.DeliveryID), ReplayOf: deref(r.ReplayOf), Error: r.Error,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		AvailableAt: r.AvailableAt.UTC(), Claims: r.Claims, CancelRequested: r.CancelRequested,
		TestOptions: bytesOf(r.TestOptions), FlowName: r.FlowName, FlowDeleted: r.FlowDeleted,
		Parent: Parent{ParentRunID: deref(r.ParentRunID), ParentNode: deref(r.ParentNode), ParentIteration: r.ParentIteration,
			ParentAttempt: r.ParentAttempt, CallDepth: r.CallDepth},
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

const runColumns = `id, flow_id, flow_version, status, trigger_type, trigger_data, delivery_id, replay_of, error,
	created_at, started_at, finished_at, available_at, lease_owner, claims, cancel_requested,
	parent_run_id, parent_node, parent_iteration, parent_attempt, call_depth, test_options`

// newRunRow is the row of a run about to be inserted: queued, or when the
// run names an owner, already claimed by it (a process that takes on at
// once the run it made, with no claim to commit).
func newRunRow(r NewRun, id string, t time.Time) runRow {
	row := runRow{
		ID: id, FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: RunQueued, TriggerType: r.TriggerType,
		TriggerData: string(r.Trigger), DeliveryID: nonEmpty(r.DeliveryID), ReplayOf: nonEmpty(r.ReplayOf),
		CreatedAt: t, AvailableAt: t,
		ParentRunID: nonEmpty(r.ParentRunID), ParentNode: nonEmpty(r.ParentNode), ParentIteration: r.ParentIteration,
		ParentAttempt: r.ParentAttempt, CallDepth: r.CallDepth, TestOptions: text(r.TestOptions),
	}
	if r.Owner != "" {
		row.Status, row.LeaseOwner, row.StartedAt, row.Claims = RunRunning, &r.Owner, &t, 1
	}
	return row
}

// EnqueueRuns implements Store.
func (db *DB) EnqueueRuns(ctx context.Context, runs []NewRun) ([]*Run, error) {
	rows, err := newRunRows(runs)
	if err != nil {
		return nil, fmt.Errorf("enqueue run: %w", err)
	}
	err = db.commits.write(ctx, func(tx *gorm.DB) error {
		return tx.CreateInBatches(rows, 500).Error
	})
	if err != nil {
		return nil, fmt.Errorf("enqueue runs: %w", err)
	}
	out := make([]*Run, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
}

// NewRunID returns a new run id, for a caller that records it before the
// run is stored (NewRun.ID).
func NewRunID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new run id: %w", err)
	}
	return id.String(), nil
}

// newRunRows are the rows of runs about to be inserted now.
func newRunRows(runs []NewRun) ([]runRow, error) {
	rows := make([]runRow, len(runs))
	t := now()
	for i, r := range runs {
		id := r.ID
		if id == "" {
			var err error
			if id, err = NewRunID(); err != nil {
				return nil, err
			}
		}
		rows[i] = newRunRow(r, id, t)
	}
	return rows, nil
}

// maxClaimRounds bounds the passes a claim makes over the flows with work.
const maxClaimRounds = 3

// ClaimRuns implements Store. The engine is shared fairly: each flow with
// due runs gets an equal share of the claim, oldest runs first, and a flow
// with a concurrency limit no more than the room it has left across every
// process; what a flow leaves of its share goes to the others in a further
// round. The flows with queued runs are found by skipping through the
// queued-runs index, one probe per flow, so a long queue costs no scan.
func (db *DB) ClaimRuns(ctx context.Context, owner string, limit int) ([]*Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	postgres := db.dialect == DialectPostgres
	var claimed []runRow
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		claimed = claimed[:0]
		t := now()
		flows, err := queuedFlows(tx, postgres)
		if err != nil || len(flows) == 0 {
			return err
		}
		room, err := flowRoom(tx, postgres, flows)
		if err != nil {
			return err
		}
		var ids []string
		taken := map[string]int{}
		exhausted := map[string]bool{}
		for round := 0; round < maxClaimRounds && len(ids) < limit; round++ {
			var open []string
			for _, f := range flows {
				if r, limited := room[f]; !exhausted[f] && (!limited || r > taken[f]) {
					open = append(open, f)
				}
			}
			if len(open) == 0 {
				break
			}
			share := (limit - len(ids) + len(open) - 1) / len(open)
			progressed := false
			for _, f := range open {
				want := min(share, limit-len(ids))
				if r, limited := room[f]; limited {
					want = min(want, r-taken[f])
				}
				if want <= 0 {
					continue
				}
				picked, err := dueRuns(tx, postgres, f, t, want, taken[f])
				if err != nil {
					return err
				}
				ids = append(ids, picked...)
				taken[f] += len(picked)
				progressed = progressed || len(picked) == want
				exhausted[f] = len(picked) < want // it has no more due runs

			}
			if !progressed {
				break
			}
		}
		if len(ids) == 0 {
			return nil
		}
		return tx.Raw(`UPDATE runs SET status = 'running', lease_owner = ?, available_at = ?, wake = FALSE,
			started_at = COALESCE(started_at, ?), claims = claims + 1
			WHERE id IN ? AND status = 'queued' RETURNING `+runColumns, owner, t, t, ids).Scan(&claimed).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	out := make([]*Run, len(claimed))
	for i := range claimed {
		out[i] = claimed[i].record()
	}
	return out, nil
}

// maxClaimFlows bounds how many flows one claim considers.
const maxClaimFlows = 1000

// queuedFlows lists the flows with queued runs, due or not, by skipping
// through the runs_queued index from one flow to the next. SQLite's
// planner, without statistics, would rather scan runs_by_status: it is told
// which index to use.
func queuedFlows(tx *gorm.DB, postgres bool) ([]string, error) {
	from := "runs INDEXED BY runs_queued"
	if postgres {
		from = "runs"
	}
	var flows []string
	err := tx.Raw(`WITH RECURSIVE f(flow_id) AS (
			SELECT (SELECT MIN(flow_id) FROM `+from+` WHERE status = 'queued')
			UNION ALL
			SELECT (SELECT MIN(flow_id) FROM `+from+` WHERE status = 'queued' AND flow_id > f.flow_id) FROM f WHERE f.flow_id IS NOT NULL
		) SELECT flow_id FROM f WHERE flow_id IS NOT NULL LIMIT ?`, maxClaimFlows).Scan(&flows).Error
	if err != nil {
		return nil, fmt.Errorf("flows with queued runs: %w", err)
	}
	return flows, nil
}

// flowRoom returns, for the flows with a concurrency limit, how many more
// of their runs may run. On Postgres, where processes claim side by side,
// each limited flow's claims take turns under a transaction lock, held
// until the claim commits, so two claims never both see the same room.
func flowRoom(tx *gorm.DB, postgres bool, flows []string) (map[string]int, error) {
	var limits []struct {
		ID          string
		Concurrency int
	}
	if err := tx.Raw(`SELECT id, concurrency FROM flows WHERE concurrency > 0 AND id IN ?`, flows).Scan(&limits).Error; err != nil {
		return nil, fmt.Errorf("flow concurrency limits: %w", err)
	}
	room := make(map[string]int, len(limits))
	if len(limits) == 0 {
		return room, nil
	}
	limited := make([]string, len(limits))
	for i, l := range limits {
		room[l.ID] = l.Concurrency
		limited[i] = l.ID
	}
	if postgres {
		sort.Strings(limited) // one order for every claim: no deadlock
		for _, id := range limited {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtextextended('hookflow claim ' || ?, 0))`, id).Error; err != nil {
				return nil, fmt.Errorf("lock flow %s for a claim: %w", id, err)
			}
		}
	}
	var running []struct {
		FlowID string
		N      int
	}
	err := tx.Raw(`SELECT flow_id, COUNT(*) AS n FROM runs WHERE status = 'running' AND flow_id IN ? GROUP BY flow_id`, limited).
		Scan(&running).Error
	if err != nil {
		return nil, fmt.Errorf("count running runs: %w", err)
	}
	for _, r := range running {
		room[r.FlowID] = max(0, room[r.FlowID]-r.N)
	}
	return room, nil
}

// dueRuns picks up to n of a flow's due queued runs, oldest first, past the
// skip already taken by this claim.
func dueRuns(tx *gorm.DB, postgres bool, flowID string, t time.Time, n, skip int) ([]string, error) {
	lock := ""
	if postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var ids []string
	err := tx.Raw(`SELECT id FROM runs WHERE status = 'queued' AND flow_id = ? AND available_at <= ?
		ORDER BY available_at LIMIT ? OFFSET ?`+lock, flowID, t, n, skip).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("due runs of flow %s: %w", flowID, err)
	}
	return ids, nil
}

// runWrite is one run's part of a batch: its step records, encoded, and
// perhaps the run's end (a finish) or its return to the queue (a release).
// Every write is fenced: it lands only while owner holds the run.
type runWrite struct {
	owner, runID string
	n            int64
	// record is the write's step records as stored; nil when it has none.
	record []byte
	// status is "" for records alone, a finished status for a finish, or
	// RunQueued for a release until at.
	status  string
	message string
	at      time.Time
	// wakeAt is when a released run is due if a signal came for it while
	// it ran: now, or at if that is sooner.
	wakeAt time.Time
	// spawn and signals are stored with the write: runs it starts, and
	// signals it sends to other runs' waiting steps.
	spawn   []runRow
	signals []Signal
	// lost is set by the batch when owner no longer held the run.
	lost bool
}

// newRunWrite encodes a write's records, here on the caller's goroutine.
func newRunWrite(w Write) (*runWrite, error) {
	rw := &runWrite{owner: w.Owner, runID: w.RunID, n: w.N, signals: w.Signals}
	if len(w.Spawn) > 0 {
		rows, err := newRunRows(w.Spawn)
		if err != nil {
			return nil, err
		}
		rw.spawn = rows
	}
	if len(w.Steps) > 0 {
		record, err := encodeSteps(w.Steps)
		if err != nil {
			return nil, err
		}
		rw.record = record
	}
	return rw, nil
}

// writeRun queues a run's write with the others of the next batch and
// returns the channel its outcome arrives on: ErrLeaseLost when the owner
// no longer held the run.
func (db *DB) writeRun(w Write, end func(*runWrite)) <-chan error {
	rw, err := newRunWrite(w)
	if err != nil {
		done := make(chan error, 1)
		done <- err
		return done
	}
	if end != nil {
		end(rw)
	}
	return db.commits.submit(&writeOp{kind: db.runWrites, payload: rw, done: make(chan error, 1)})
}

// outcome is what the batch made of the write (committer.outcomer).
func (w *runWrite) outcome() error {
	if w.lost {
		return ErrLeaseLost
	}
	return nil
}

// applyRunWrites writes a batch of runs' writes: the finishes and releases
// as one update per few dozen runs, fenced on their owners (the runs it
// did not change were lost); a query fencing the writes of records alone;
// then one row per write into run_records.
func (db *DB) applyRunWrites(tx *gorm.DB, payloads []any) error {
	ctx := tx.Statement.Context
	conn := tx.Statement.ConnPool
	postgres := db.dialect == DialectPostgres
	var ends, checkpoints []*runWrite
	for _, p := range payloads {
		w := p.(*runWrite)
		w.lost = false
		if w.status == "" {
			checkpoints = append(checkpoints, w)
		} else {
			ends = append(ends, w)
		}
	}
	if err := endRuns(ctx, conn, postgres, ends); err != nil {
		return err
	}
	if len(checkpoints) > 0 {
		ids := make([]string, len(checkpoints))
		for i, w := range checkpoints {
			ids[i] = w.runID
		}
		holders, err := runHolders(ctx, conn, postgres, ids)
		if err != nil {
			return err
		}
		for _, w := range checkpoints {
			w.lost = holders[w.runID] != w.owner
		}
	}
	var (
		records []*runWrite
		spawn   []runRow
		signals []Signal
	)
	for _, p := range payloads {
		w := p.(*runWrite)
		if w.lost {
			continue
		}
		if w.record != nil {
			records = append(records, w)
		}
		spawn = append(spawn, w.spawn...)
		signals = append(signals, w.signals...)
	}
	if err := insertRecords(ctx, conn, postgres, records); err != nil {
		return err
	}
	if len(spawn) > 0 {
		if err := tx.CreateInBatches(spawn, 500).Error; err != nil {
			return fmt.Errorf("start runs: %w", err)
		}
	}
	for i := range signals {
		if _, err := addSignal(tx, &signals[i]); err != nil {
			return err
		}
	}
	return nil
}

// endRuns finishes or releases runs, marking lost those whose owner no
// longer held them. On Postgres one statement updates a few dozen runs, in
// the order of their ids, so concurrent batches lock rows in one order; on
// SQLite, where such an update joins slowly, each run has its own, which
// costs no round trip there.
func endRuns(ctx context.Context, conn gorm.ConnPool, postgres bool, ends []*runWrite) error {
	if len(ends) == 0 {
		return nil
	}
	if !postgres {
		return endEachRun(ctx, conn, ends)
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].runID < ends[j].runID })
	cast := func(typ string) string { return "::" + typ }
	for _, c := range chunks(len(ends)) {
		m := newMultiRow(postgres, `WITH v (id, owner, status, error, at, wake_at) AS (VALUES`)
		for i, w := range ends[c[0]:c[1]] {
			if i > 0 {
				m.sql.WriteByte(',')
			}
			m.sql.WriteString(" (" + m.param(w.runID) + cast("text") + ", " + m.param(w.owner) + cast("text") + ", " +
				m.param(w.status) + cast("text") + ", " + m.param(w.message) + cast("text") + ", " + m.param(w.at) + cast("timestamptz") + ", " +
				m.param(w.wakeAt) + cast("timestamptz") + ")")
		}
		// A release (status queued) keeps the run's error and finished_at
		// and makes it available again at its time, or at once if a signal
		// or a cancellation came meanwhile; a finish stamps it.
		m.sql.WriteString(`) UPDATE runs SET status = v.status, lease_owner = NULL,
			error = CASE WHEN v.status = 'queued' THEN runs.error ELSE v.error END,
			finished_at = CASE WHEN v.status = 'queued' THEN runs.finished_at ELSE v.at END,
			available_at = CASE WHEN v.status <> 'queued' THEN runs.available_at WHEN runs.wake OR runs.cancel_requested THEN v.wake_at ELSE v.at END
			FROM v WHERE runs.id = v.id AND runs.lease_owner = v.owner AND runs.status = 'running' RETURNING runs.id`)
		rows, err := conn.QueryContext(ctx, m.sql.String(), m.args...)
		if err != nil {
			return err
		}
		ended := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ended[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, w := range ends[c[0]:c[1]] {
			w.lost = !ended[w.runID]
		}
	}
	return nil
}

// endEachRun is endRuns with a statement per run.
func endEachRun(ctx context.Context, conn gorm.ConnPool, ends []*runWrite) error {
	for _, w := range ends {
		var res sql.Result
		var err error
		if w.status == RunQueued {
			res, err = conn.ExecContext(ctx, `UPDATE runs SET status = 'queued', available_at = CASE WHEN wake OR cancel_requested THEN ? ELSE ? END,
				lease_owner = NULL WHERE id = ? AND lease_owner = ? AND status = 'running'`, w.wakeAt, w.at, w.runID, w.owner)
		} else {
			res, err = conn.ExecContext(ctx, `UPDATE runs SET status = ?, error = ?, finished_at = ?, lease_owner = NULL
				WHERE id = ? AND lease_owner = ? AND status = 'running'`, w.status, w.message, w.at, w.runID, w.owner)
		}
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		w.lost = n == 0
	}
	return nil
}

// runHolders returns the owner of each of the runs that is running.
func runHolders(ctx context.Context, conn gorm.ConnPool, postgres bool, ids []string) (map[string]string, error) {
	holders := make(map[string]string, len(ids))
	for _, c := range chunks(len(ids)) {
		m := newMultiRow(postgres, `SELECT id, lease_owner FROM runs WHERE status = 'running' AND id IN (`)
		for i, id := range ids[c[0]:c[1]] {
			if i > 0 {
				m.sql.WriteString(", ")
			}
			m.sql.WriteString(m.param(id))
		}
		m.sql.WriteString(")")
		rows, err := conn.QueryContext(ctx, m.sql.String(), m.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			var owner sql.NullString
			if err := rows.Scan(&id, &owner); err != nil {
				rows.Close()
				return nil, err
			}
			holders[id] = owner.String
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return holders, nil
}

// SaveSteps implements Store.
func (db *DB) SaveSteps(ctx context.Context, w Write) error {
	select {
	case err := <-db.writeRun(w, nil):
		if err != nil {
			return fmt.Errorf("save steps of run %s: %w", w.RunID, err)
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// SaveStepsAsync implements Store.
func (db *DB) SaveStepsAsync(w Write) <-chan error {
	return db.writeRun(w, nil)
}

// FinishRun implements Store.
func (db *DB) FinishRun(w Write, status, message string) <-chan error {
	return db.writeRun(w, func(rw *runWrite) { rw.status, rw.message, rw.at = status, message, now() })
}

// ReleaseRun implements Store.
func (db *DB) ReleaseRun(ctx context.Context, w Write, availableAt time.Time) error {
	done := db.writeRun(w, func(rw *runWrite) {
		rw.status, rw.at = RunQueued, availableAt.UTC().Truncate(time.Microsecond)
		rw.wakeAt = rw.at
		if t := now(); t.Before(rw.at) {
			rw.wakeAt = t
		}
	})
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("release run %s: %w", w.RunID, err)
		}
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// RequestCancel implements Store.
func (db *DB) RequestCancel(ctx context.Context, id string) (*Run, error) {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		var r runRow
		q := tx.Where("id = ?", id)
		if db.dialect == DialectPostgres {
			// Locked, so a release committing meanwhile is seen: a run
			// marked for its worker after it went back to the queue would
			// wait there, canceled by nobody.
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Take(&r).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return ErrNotFound
			}
			return err
		}
		switch r.Status {
		case RunQueued:
			// Nobody holds it: cancel it here, closing a step that was
			// waiting (a delay, say).
			t := now()
			if err := tx.Exec(`UPDATE runs SET status = 'canceled', error = 'canceled', finished_at = ? WHERE id = ?`, t, id).Error; err != nil {
				return err
			}
			return closeWaitingSteps(tx, &r)
		case RunRunning:
			// Its worker notices when it renews the lease.
			return tx.Exec(`UPDATE runs SET cancel_requested = ? WHERE id = ?`, true, id).Error
		}
		return ErrRunFinished
	})
	if err != nil {
		return nil, fmt.Errorf("cancel run %s: %w", id, err)
	}
	return db.GetRun(ctx, id)
}

// runsWithFlows selects runs with their flow's name, and whether the flow
// was deleted.
func (db *DB) runsWithFlows(ctx context.Context) *gorm.DB {
	return db.read.WithContext(ctx).Table("runs").
		Select("runs.*, flows.name AS flow_name, flows.deleted_at IS NOT NULL AS flow_deleted").
		Joins("LEFT JOIN flows ON flows.id = runs.flow_id")
}

// GetRun implements Store.
func (db *DB) GetRun(ctx context.Context, id string) (*Run, error) {
	var r runRow
	err := db.runsWithFlows(ctx).Where("runs.id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("get run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run %s: %w", id, err)
	}
	return r.record(), nil
}

// ListRuns implements Store.
func (db *DB) ListRuns(ctx context.Context, f RunFilter) ([]*Run, error) {
	q := db.runsWithFlows(ctx)
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.FlowID != "" {
		add("runs.flow_id = ?", f.FlowID)
	}
	if f.Status != "" {
		add("runs.status = ?", f.Status)
	}
	if f.ParentRunID != "" {
		add("runs.parent_run_id = ?", f.ParentRunID)
	}
	if f.Unfinished {
		add("runs.status IN ?", []string{RunQueued, RunRunning})
	}
	if !f.Since.IsZero() {
		add("runs.created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("runs.created_at < ?", f.Until.UTC())
	}
	if f.Before != "" {
		add("runs.id < ?", f.Before)
	}
	if len(where) > 0 {
		q = q.Where(strings.Join(where, " AND "), args...)
	}
	var rows []runRow
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if err := q.Order("runs.id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make([]*Run, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
}

// closeWaitingSteps records a canceled queued run's waiting steps (a
// delay, say) as failed, in a write after every write of its last claim.
func closeWaitingSteps(tx *gorm.DB, r *runRow) error {
	steps, err := listSteps(tx, r.ID)
	if err != nil {
		return err
	}
	var closed []*Step
	for _, s := range steps {
		if s.Status == StepRunning {
			s.Status, s.Error, s.ResumeAt = StepFailed, "canceled", nil
			closed = append(closed, s)
		}
	}
	if len(closed) == 0 {
		return nil
	}
	record, err := encodeSteps(closed)
	if err != nil {
		return err
	}
	return tx.Exec(`INSERT INTO run_records (run_id, n, steps) VALUES (?, ?, ?)`, r.ID, lastWriteOf(r.Claims), record).Error
}

// FlowStats implements Store. Run ids are UUIDv7, which sort by creation
// time, so both questions are answered from the primary key and the
// (flow_id, id) index rather than by scanning every run.
func (db *DB) FlowStats(ctx context.Context, since time.Time) (map[string]FlowStats, error) {
	stats := map[string]FlowStats{}
	var latest []runRow
	err := db.read.WithContext(ctx).
		Select("flow_id", "id", "status", "created_at").
		Where("id IN (?)", db.read.Model(&runRow{}).Select("MAX(id)").Group("flow_id")).
		Find(&latest).Error
	if err != nil {
		return nil, fmt.Errorf("latest run per flow: %w", err)
	}
	for _, r := range latest {
		stats[r.FlowID] = FlowStats{LastRunID: r.ID, LastRunStatus: r.Status, LastRunAt: r.CreatedAt.UTC()}
	}
	var counts []struct {
		FlowID string
		N      int
	}
	err = db.read.WithContext(ctx).Model(&runRow{}).
		Select("flow_id, COUNT(*) AS n").Where("id >= ?", uuidV7Floor(since)).Group("flow_id").
		Scan(&counts).Error
	if err != nil {
		return nil, fmt.Errorf("count recent runs per flow: %w", err)
	}
	for _, c := range counts {
		s := stats[c.FlowID]
		s.RunsSince = c.N
		stats[c.FlowID] = s
	}
	return stats, nil
}

// uuidV7Floor is the smallest UUIDv7 of the given millisecond, as text: ids
// of runs created at or after t compare greater or equal.
func uuidV7Floor(t time.Time) string {
	ms := uint64(t.UnixMilli())
	return fmt.Sprintf("%08x-%04x-7000-8000-000000000000", ms>>16, ms&0xffff)
}

// RunBytes is how many bytes a run's data takes in the database: its
// trigger data (with the run, or the body of its delivery) and its step
// records, as stored (compressed where large).
func (db *DB) RunBytes(ctx context.Context, runID string) (int64, error) {
	length := "length"
	if db.dialect == DialectPostgres {
		length = "octet_length"
	}
	var n int64
	err := db.read.WithContext(ctx).Raw(`SELECT
		COALESCE((SELECT `+length+`(trigger_data) FROM runs WHERE id = ?), 0) +
		COALESCE((SELECT `+length+`(body) + `+length+`(headers) FROM deliveries WHERE run_id = ? AND status = 'accepted'), 0) +
		COALESCE((SELECT SUM(`+length+`(steps)) FROM run_records WHERE run_id = ?), 0)`, runID, runID, runID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("size of run %s: %w", runID, err)
	}
	return n, nil
}
