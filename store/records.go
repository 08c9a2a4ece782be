package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
)

// Write is one write of a run's step records by the worker holding the run:
// a checkpoint, or the records that go with the run's finish or release.
type Write struct {
	Owner string
	RunID string
	// N orders the run's writes (WriteNumber): a later write's record of an
	// attempt replaces an earlier one's.
	N     int64
	Steps []*Step
	// Spawn are runs the write starts (flow.call steps, error flows),
	// stored only if the write lands.
	Spawn []NewRun
	// Signals end other runs' waiting steps (a called run's end), stored
	// only if the write lands; each wakes its run.
	Signals []Signal
}

// WriteNumber numbers the k-th write (from 1) of a run's claim-th claim, so
// that every write of a later claim comes after every write of an earlier
// one.
func WriteNumber(claim, k int) int64 { return int64(claim)<<32 | int64(k) }

// lastWriteOf numbers a write that follows every write of a claim: the
// closing of a queued run's waiting step when it is canceled.
func lastWriteOf(claim int) int64 { return int64(claim)<<32 | 0xffffffff }

// stepEntry is a step record as stored inside a write's row.
type stepEntry struct {
	Node        string          `json:"n"`
	Iteration   string          `json:"i,omitempty"`
	Attempt     int             `json:"a"`
	Seq         int             `json:"q"`
	Status      string          `json:"s"`
	Port        *string         `json:"p,omitempty"`
	Input       json.RawMessage `json:"in,omitempty"`
	InputFrom   string          `json:"if,omitempty"`
	Output      json.RawMessage `json:"o,omitempty"`
	Error       string          `json:"e,omitempty"`
	Logs        json.RawMessage `json:"l,omitempty"`
	Interrupted bool            `json:"x,omitempty"`
	ResumeAt    *time.Time      `json:"r,omitempty"`
	StartedAt   time.Time       `json:"t"`
	DurationUS  int64           `json:"d,omitempty"`
	ChildRunID  string          `json:"c,omitempty"`
}

// rawJSON keeps a value that is JSON as it is; anything else (it should not
// happen) is kept as a JSON string of its text, so a record always encodes.
func rawJSON(b []byte) json.RawMessage {
	if b == nil || json.Valid(b) {
		return b
	}
	quoted, _ := json.Marshal(string(b))
	return quoted
}

// encodeSteps renders a write's records as stored: a JSON array, compressed
// when large. Callers encode outside the committer.
func encodeSteps(steps []*Step) ([]byte, error) {
	entries := make([]stepEntry, len(steps))
	for i, s := range steps {
		entries[i] = stepEntry{
			Node: s.NodeID, Iteration: s.Iteration, Attempt: s.Attempt, Seq: s.Seq, Status: s.Status, Port: s.Port,
			Input: rawJSON(s.Input), InputFrom: s.InputFrom, Output: rawJSON(s.Output), Error: s.Error, Logs: rawJSON(s.Logs),
			Interrupted: s.Interrupted, ResumeAt: utc(s.ResumeAt), StartedAt: s.StartedAt.UTC().Truncate(time.Microsecond),
			DurationUS: s.Duration.Microseconds(), ChildRunID: s.ChildRunID,
		}
	}
	data, err := json.Marshal(entries)
	if err != nil {
		return nil, fmt.Errorf("encode step records: %w", err)
	}
	return encodeValue(data), nil
}

// stepMerger rebuilds a run's records from its writes, in write order.
type stepMerger struct {
	runID string
	byKey map[stepID]*Step
	steps []*Step
}

type stepID struct {
	node, iteration string
	attempt         int
}

func newStepMerger(runID string) *stepMerger {
	return &stepMerger{runID: runID, byKey: map[stepID]*Step{}}
}

// add takes in one write's stored records.
func (m *stepMerger) add(stored []byte) error {
	data, err := decodeValue(stored)
	if err != nil {
		return err
	}
	var entries []stepEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return fmt.Errorf("decode step records of run %s: %w", m.runID, err)
	}
	for _, e := range entries {
		s := &Step{
			RunID: m.runID, NodeID: e.Node, Iteration: e.Iteration, Attempt: e.Attempt, Seq: e.Seq, Status: e.Status,
			Port: e.Port, Input: nullJSON(e.Input), InputFrom: e.InputFrom, Output: nullJSON(e.Output), Error: e.Error,
			Logs: nullJSON(e.Logs), Interrupted: e.Interrupted, ResumeAt: utc(e.ResumeAt), StartedAt: e.StartedAt.UTC(),
			Duration: time.Duration(e.DurationUS) * time.Microsecond, ChildRunID: e.ChildRunID,
		}
		k := stepID{s.NodeID, s.Iteration, s.Attempt}
		if old, ok := m.byKey[k]; ok {
			*old = *s
			continue
		}
		m.byKey[k] = s
		m.steps = append(m.steps, s)
	}
	return nil
}

// result returns the records in the order their steps started.
func (m *stepMerger) result() []*Step {
	sort.SliceStable(m.steps, func(i, j int) bool {
		if m.steps[i].Seq != m.steps[j].Seq {
			return m.steps[i].Seq < m.steps[j].Seq
		}
		return m.steps[i].Attempt < m.steps[j].Attempt
	})
	return m.steps
}

// nullJSON reads a stored JSON null as no value.
func nullJSON(b json.RawMessage) []byte {
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	return b
}

// ListSteps implements Store.
func (db *DB) ListSteps(ctx context.Context, runID string) ([]*Step, error) {
	steps, err := listSteps(db.read.WithContext(ctx), runID)
	if err != nil {
		return nil, fmt.Errorf("list steps of run %s: %w", runID, err)
	}
	return steps, nil
}

func listSteps(q *gorm.DB, runID string) ([]*Step, error) {
	rows, err := q.Raw(`SELECT steps FROM run_records WHERE run_id = ? ORDER BY n`, runID).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := newStepMerger(runID)
	for rows.Next() {
		var stored []byte
		if err := rows.Scan(&stored); err != nil {
			return nil, err
		}
		if err := m.add(stored); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return m.result(), nil
}

// insertRecords writes one row per write.
func insertRecords(ctx context.Context, conn gorm.ConnPool, postgres bool, writes []*runWrite) error {
	for _, c := range chunks(len(writes)) {
		m := newMultiRow(postgres, `INSERT INTO run_records (run_id, n, steps) VALUES`)
		for _, w := range writes[c[0]:c[1]] {
			m.add(w.runID, w.n, w.record)
		}
		if _, err := conn.ExecContext(ctx, m.sql.String(), m.args...); err != nil {
			return err
		}
	}
	return nil
}

// migrateRunSteps is migration 7: it moves the records of run_steps, one
// row per attempt, into run_records, one row per write, and drops
// run_steps. Each old row becomes a write of its own, in the order the
// steps started; a claim's writes all come after them.
func migrateRunSteps(ctx context.Context, tx *sql.Tx, postgres bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT run_id, node_id, iteration, attempt, seq, status, port, input, output, error, logs,
		interrupted, resume_at, started_at, duration_us FROM run_steps ORDER BY run_id, seq, attempt`)
	if err != nil {
		return fmt.Errorf("read run_steps: %w", err)
	}
	type moved struct {
		runID  string
		n      int64
		record []byte
	}
	var all []moved
	lastRun, n := "", int64(0)
	for rows.Next() {
		var (
			s                     Step
			port, input, output   sql.NullString
			logs                  sql.NullString
			resumeAt              sql.NullTime
			durationUS            int64
			interrupted           bool
			attempt, seq          int
			node, iteration, stat string
		)
		if err := rows.Scan(&s.RunID, &node, &iteration, &attempt, &seq, &stat, &port, &input, &output, &s.Error, &logs,
			&interrupted, &resumeAt, &s.StartedAt, &durationUS); err != nil {
			rows.Close()
			return fmt.Errorf("read run_steps: %w", err)
		}
		s.NodeID, s.Iteration, s.Attempt, s.Seq, s.Status, s.Interrupted = node, iteration, attempt, seq, stat, interrupted
		s.Duration = time.Duration(durationUS) * time.Microsecond
		if port.Valid {
			s.Port = &port.String
		}
		if input.Valid {
			s.Input = []byte(input.String)
		}
		if output.Valid {
			s.Output = []byte(output.String)
		}
		if logs.Valid {
			s.Logs = []byte(logs.String)
		}
		if resumeAt.Valid {
			s.ResumeAt = &resumeAt.Time
		}
		if s.RunID != lastRun {
			lastRun, n = s.RunID, 0
		}
		n++
		record, err := encodeSteps([]*Step{&s})
		if err != nil {
			rows.Close()
			return err
		}
		all = append(all, moved{s.RunID, n, record})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read run_steps: %w", err)
	}
	for _, m := range all {
		if _, err := tx.ExecContext(ctx, rebind(postgres, `INSERT INTO run_records (run_id, n, steps) VALUES (?, ?, ?)`),
			m.runID, m.n, m.record); err != nil {
			return fmt.Errorf("write run_records: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE run_steps`); err != nil {
		return fmt.Errorf("drop run_steps: %w", err)
	}
	return nil
}

// recordsMigration is migration 7 for the dialect, registered beside the
// SQL ones. It cannot be undone: run_steps is gone.
func recordsMigration(postgres bool) *goose.Migration {
	return goose.NewGoMigration(7,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return migrateRunSteps(ctx, tx, postgres) }},
		&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return errors.New("migration 7 cannot be undone") }})
}
