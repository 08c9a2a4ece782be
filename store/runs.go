package store

import (
	"context"
	"errors"
	"fmt"
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
	Port   *string
	Input  []byte
	Output []byte
	Error  string
	// Logs is the step's log lines as a JSON array.
	Logs        []byte
	Interrupted bool
	ResumeAt    *time.Time
	StartedAt   time.Time
	Duration    time.Duration
}

// RunFilter selects runs for ListRuns, newest first.
type RunFilter struct {
	FlowID string
	Status string
	// Since and Until bound created_at: Since ≤ created_at < Until.
	Since, Until time.Time
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
}

func (runRow) TableName() string { return "runs" }

func (r *runRow) record() *Run {
	return &Run{
		ID: r.ID, FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: r.Status, TriggerType: r.TriggerType,
		Trigger: []byte(r.TriggerData), DeliveryID: deref(r.DeliveryID), ReplayOf: deref(r.ReplayOf), Error: r.Error,
		CreatedAt: r.CreatedAt.UTC(), StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt),
		AvailableAt: r.AvailableAt.UTC(), Claims: r.Claims, CancelRequested: r.CancelRequested,
	}
}

type stepRow struct {
	RunID       string `gorm:"primaryKey"`
	NodeID      string `gorm:"primaryKey"`
	Iteration   string `gorm:"primaryKey"`
	Attempt     int    `gorm:"primaryKey"`
	Seq         int
	Status      string
	Port        *string
	Input       *string
	Output      *string
	Error       string
	Logs        *string
	Interrupted bool
	ResumeAt    *time.Time
	StartedAt   time.Time
	DurationUS  int64 `gorm:"column:duration_us"`
}

func (stepRow) TableName() string { return "run_steps" }

func stepRowOf(s *Step) stepRow {
	return stepRow{
		RunID: s.RunID, NodeID: s.NodeID, Iteration: s.Iteration, Attempt: s.Attempt, Seq: s.Seq, Status: s.Status,
		Port: s.Port, Input: text(s.Input), Output: text(s.Output), Error: s.Error, Logs: text(s.Logs),
		Interrupted: s.Interrupted, ResumeAt: s.ResumeAt, StartedAt: s.StartedAt.UTC(), DurationUS: s.Duration.Microseconds(),
	}
}

func (r *stepRow) record() *Step {
	return &Step{
		RunID: r.RunID, NodeID: r.NodeID, Iteration: r.Iteration, Attempt: r.Attempt, Seq: r.Seq, Status: r.Status,
		Port: r.Port, Input: bytesOf(r.Input), Output: bytesOf(r.Output), Error: r.Error, Logs: bytesOf(r.Logs),
		Interrupted: r.Interrupted, ResumeAt: utc(r.ResumeAt), StartedAt: r.StartedAt.UTC(),
		Duration: time.Duration(r.DurationUS) * time.Microsecond,
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
	created_at, started_at, finished_at, available_at, lease_owner, claims, cancel_requested`

// EnqueueRuns implements Store.
func (db *DB) EnqueueRuns(ctx context.Context, runs []NewRun) ([]*Run, error) {
	rows := make([]runRow, len(runs))
	t := now()
	for i, r := range runs {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("enqueue run: %w", err)
		}
		rows[i] = runRow{
			ID: id.String(), FlowID: r.FlowID, FlowVersion: r.FlowVersion, Status: RunQueued, TriggerType: r.TriggerType,
			TriggerData: string(r.Trigger), DeliveryID: nonEmpty(r.DeliveryID), ReplayOf: nonEmpty(r.ReplayOf),
			CreatedAt: t, AvailableAt: t,
		}
	}
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
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

// ClaimRuns implements Store.
func (db *DB) ClaimRuns(ctx context.Context, owner string, limit int, leaseUntil time.Time) ([]*Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if db.dialect == DialectPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var claimed []runRow
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		claimed = claimed[:0]
		t := now()
		// Runs whose worker died come first: they have waited longest.
		for _, pick := range []string{
			`SELECT id FROM runs WHERE status = 'running' AND available_at < ? ORDER BY available_at LIMIT ?`,
			`SELECT id FROM runs WHERE status = 'queued' AND available_at <= ? ORDER BY available_at LIMIT ?`,
		} {
			want := limit - len(claimed)
			if want == 0 {
				break
			}
			var rows []runRow
			err := tx.Raw(`UPDATE runs SET status = 'running', lease_owner = ?, available_at = ?,
				started_at = COALESCE(started_at, ?), claims = claims + 1
				WHERE id IN (`+pick+lock+`) RETURNING `+runColumns, owner, leaseUntil.UTC(), t, t, want).Scan(&rows).Error
			if err != nil {
				return err
			}
			claimed = append(claimed, rows...)
		}
		return nil
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

// RenewLeases implements Store.
func (db *DB) RenewLeases(ctx context.Context, owner string, ids []string, until time.Time) (lost, cancel []string, err error) {
	if len(ids) == 0 {
		return nil, nil, nil
	}
	type leaseRow struct {
		ID              string
		LeaseOwner      *string
		Status          string
		CancelRequested bool
	}
	var rows []leaseRow
	err = db.commits.write(ctx, func(tx *gorm.DB) error {
		err := tx.Exec(`UPDATE runs SET available_at = ? WHERE lease_owner = ? AND status = 'running' AND id IN ?`,
			until.UTC(), owner, ids).Error
		if err != nil {
			return err
		}
		return tx.Raw(`SELECT id, lease_owner, status, cancel_requested FROM runs WHERE id IN ?`, ids).Scan(&rows).Error
	})
	if err != nil {
		return nil, nil, fmt.Errorf("renew leases: %w", err)
	}
	held := make(map[string]bool, len(rows))
	for _, r := range rows {
		if r.Status == RunRunning && deref(r.LeaseOwner) == owner {
			held[r.ID] = true
			if r.CancelRequested {
				cancel = append(cancel, r.ID)
			}
		}
	}
	for _, id := range ids {
		if !held[id] {
			lost = append(lost, id)
		}
	}
	return lost, cancel, nil
}

// upsertSteps writes step rows, replacing an attempt already written (a
// running row that has since ended).
func upsertSteps(tx *gorm.DB, steps []*Step) error {
	if len(steps) == 0 {
		return nil
	}
	rows := make([]stepRow, len(steps))
	for i, s := range steps {
		rows[i] = stepRowOf(s)
	}
	return tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "run_id"}, {Name: "node_id"}, {Name: "iteration"}, {Name: "attempt"}},
		DoUpdates: clause.AssignmentColumns([]string{
			"seq", "status", "port", "input", "output", "error", "logs", "interrupted", "resume_at", "started_at", "duration_us",
		}),
	}).CreateInBatches(rows, 200).Error
}

// fenced runs an update of a run that only its lease holder may make.
func fenced(tx *gorm.DB, query string, args ...any) error {
	res := tx.Exec(query, args...)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrLeaseLost
	}
	return nil
}

// SaveSteps implements Store.
func (db *DB) SaveSteps(ctx context.Context, owner, runID string, steps []*Step) error {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		// Touching the lease proves the owner still holds the run, and
		// locks its row until the steps are in.
		if err := fenced(tx, `UPDATE runs SET lease_owner = lease_owner WHERE id = ? AND lease_owner = ? AND status = 'running'`,
			runID, owner); err != nil {
			return err
		}
		return upsertSteps(tx, steps)
	})
	if err != nil {
		return fmt.Errorf("save steps of run %s: %w", runID, err)
	}
	return nil
}

// FinishRun implements Store.
func (db *DB) FinishRun(owner, id, status, message string, steps []*Step) <-chan error {
	t := now()
	return db.commits.writeAsync(func(tx *gorm.DB) error {
		if err := upsertSteps(tx, steps); err != nil {
			return err
		}
		return fenced(tx, `UPDATE runs SET status = ?, error = ?, finished_at = ?, lease_owner = NULL
			WHERE id = ? AND lease_owner = ? AND status = 'running'`, status, message, t, id, owner)
	})
}

// ReleaseRun implements Store.
func (db *DB) ReleaseRun(ctx context.Context, owner, id string, availableAt time.Time, steps []*Step) error {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		if err := upsertSteps(tx, steps); err != nil {
			return err
		}
		return fenced(tx, `UPDATE runs SET status = 'queued', available_at = ?, lease_owner = NULL
			WHERE id = ? AND lease_owner = ? AND status = 'running'`, availableAt.UTC(), id, owner)
	})
	if err != nil {
		return fmt.Errorf("release run %s: %w", id, err)
	}
	return nil
}

// RequestCancel implements Store.
func (db *DB) RequestCancel(ctx context.Context, id string) (*Run, error) {
	err := db.commits.write(ctx, func(tx *gorm.DB) error {
		var r runRow
		if err := tx.Where("id = ?", id).Take(&r).Error; err != nil {
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
			return tx.Exec(`UPDATE run_steps SET status = 'failed', error = 'canceled', resume_at = NULL
				WHERE run_id = ? AND status = 'running'`, id).Error
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

// GetRun implements Store.
func (db *DB) GetRun(ctx context.Context, id string) (*Run, error) {
	var r runRow
	err := db.read.WithContext(ctx).Where("id = ?", id).Take(&r).Error
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
	q := db.read.WithContext(ctx).Model(&runRow{})
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.FlowID != "" {
		add("flow_id = ?", f.FlowID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("created_at < ?", f.Until.UTC())
	}
	if f.Before != "" {
		add("id < ?", f.Before)
	}
	if len(where) > 0 {
		q = q.Where(strings.Join(where, " AND "), args...)
	}
	var rows []runRow
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if err := q.Order("id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make([]*Run, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
}

// ListSteps implements Store.
func (db *DB) ListSteps(ctx context.Context, runID string) ([]*Step, error) {
	var rows []stepRow
	if err := db.read.WithContext(ctx).Where("run_id = ?", runID).Order("seq, attempt").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list steps of run %s: %w", runID, err)
	}
	out := make([]*Step, len(rows))
	for i := range rows {
		out[i] = rows[i].record()
	}
	return out, nil
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
