package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Delivery statuses.
const (
	DeliveryAccepted  = "accepted"
	DeliveryRejected  = "rejected"
	DeliveryDuplicate = "duplicate"
	DeliveryCaptured  = "captured"
)

// Delivery is one request to a trigger.
type Delivery struct {
	ID          string
	FlowID      string
	Status      string
	Reason      string
	HTTPStatus  int
	Method      string
	Path        string
	Query       string
	Headers     []byte
	ContentType string
	Body        []byte
	BodySize    int
	DedupeKey   string
	RunID       string
	ReceivedAt  time.Time
	// FlowName is the flow's name now; FlowDeleted is set when the flow was
	// deleted since. Only deliveries read back carry them.
	FlowName    string
	FlowDeleted bool
}

// NewDelivery is a delivery to record. An accepted one also enqueues a run
// of FlowVersion, unless DedupeKey was seen within its window: then it is
// recorded as a duplicate of the first.
type NewDelivery struct {
	Delivery
	FlowVersion int
	// DedupeUntil is when DedupeKey may be accepted again.
	DedupeUntil time.Time
	// Owner, when set, is the worker that takes the run on at once: the
	// run is stored already claimed by it (see NewRun.Owner).
	Owner string
	// TriggerType is the run's trigger type; empty is TriggerWebhook. A
	// broker message's run is of its broker's type ("rabbitmq" …).
	TriggerType string
}

// DeliveryResult says what became of a recorded delivery.
type DeliveryResult struct {
	DeliveryID string
	// RunID is the run it started, or for a duplicate the first run.
	RunID     string
	Duplicate bool
	// Run is the run the delivery started, as stored; nil for a duplicate,
	// a refusal or a capture.
	Run *Run
}

// DeliveryFilter selects deliveries, newest first.
type DeliveryFilter struct {
	FlowID string
	Status string
	// Since and Until bound received_at: Since ≤ received_at < Until.
	Since, Until time.Time
	Before       string
	Limit        int
}

type deliveryRow struct {
	ID          string `gorm:"primaryKey"`
	FlowID      string
	Status      string
	Reason      string
	HTTPStatus  int
	Method      string
	Path        string
	Query       string
	Headers     string
	ContentType string
	Body        []byte
	BodySize    int
	DedupeKey   *string
	RunID       *string
	ReceivedAt  time.Time
	FlowName    string `gorm:"->"`
	FlowDeleted bool   `gorm:"->"`
}

func (deliveryRow) TableName() string { return "deliveries" }

func (r *deliveryRow) record() (*Delivery, error) {
	body, err := decodeValue(r.Body)
	if err != nil {
		return nil, fmt.Errorf("body of delivery %s: %w", r.ID, err)
	}
	return &Delivery{
		ID: r.ID, FlowID: r.FlowID, Status: r.Status, Reason: r.Reason, HTTPStatus: r.HTTPStatus,
		Method: r.Method, Path: r.Path, Query: r.Query, Headers: []byte(r.Headers), ContentType: r.ContentType,
		Body: body, BodySize: r.BodySize, DedupeKey: deref(r.DedupeKey), RunID: deref(r.RunID), ReceivedAt: r.ReceivedAt.UTC(),
		FlowName: r.FlowName, FlowDeleted: r.FlowDeleted,
	}, nil
}

// deliveryOp is one delivery in a batch, with what became of it.
type deliveryOp struct {
	d          *NewDelivery
	deliveryID string
	runID      string
	received   time.Time
	// body is the body as stored: compressed when large.
	body []byte
	// Set by the batch:
	status string
	runRef string
	result DeliveryResult
}

// RecordDelivery implements Store. Deliveries recorded at once share
// statements, not only a transaction; it returns once the delivery, and its
// run, are durable.
func (db *DB) RecordDelivery(ctx context.Context, d *NewDelivery) (*DeliveryResult, error) {
	deliveryID, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	runID, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	op := &deliveryOp{d: d, deliveryID: deliveryID.String(), runID: runID.String(), received: d.ReceivedAt.UTC(),
		body: encodeValue(d.Body)}
	if op.received.IsZero() {
		op.received = now()
	}
	if err := db.commits.writeBatched(ctx, db.deliveries, op); err != nil {
		return nil, fmt.Errorf("record delivery: %w", err)
	}
	return &op.result, nil
}

type dedupeKey struct{ flowID, key string }

// applyDeliveries writes a batch of deliveries: their dedupe keys, the runs
// of those accepted, and the deliveries themselves, a few statements for
// the whole batch. It runs on the transaction's connection directly: this
// is the ingress's hot path, and gorm's per-call reflection would cost as
// much as SQLite.
func (db *DB) applyDeliveries(tx *gorm.DB, payloads []any) error {
	ctx := tx.Statement.Context
	conn := tx.Statement.ConnPool
	postgres := db.dialect == DialectPostgres
	ops := make([]*deliveryOp, len(payloads))
	for i, p := range payloads {
		op := p.(*deliveryOp)
		op.status, op.runRef = op.d.Status, op.d.RunID
		op.result = DeliveryResult{DeliveryID: op.deliveryID}
		ops[i] = op
	}

	// A key's first accepted delivery in the batch claims it; later ones in
	// the batch are duplicates of whichever run holds it.
	first := map[dedupeKey]*deliveryOp{}
	var candidates []*deliveryOp
	for _, op := range ops {
		if op.status != DeliveryAccepted || op.d.DedupeKey == "" {
			continue
		}
		k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
		if _, seen := first[k]; !seen {
			first[k] = op
			candidates = append(candidates, op)
		}
	}
	claimed, holders, err := claimDedupeKeys(ctx, conn, postgres, candidates)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if op.status != DeliveryAccepted {
			continue
		}
		if op.d.DedupeKey != "" {
			k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
			holder := first[k]
			run, held := holders[k]
			switch {
			case holder == op && claimed[k]:
			case claimed[k]:
				op.status, op.runRef = DeliveryDuplicate, holder.runID
			case held:
				op.status, op.runRef = DeliveryDuplicate, run
			}
		}
		if op.status == DeliveryDuplicate {
			op.result.Duplicate, op.result.RunID = true, op.runRef
			continue
		}
		op.runRef, op.result.RunID = op.runID, op.runID
		triggerType := op.d.TriggerType
		if triggerType == "" {
			triggerType = TriggerWebhook
		}
		row := newRunRow(NewRun{FlowID: op.d.FlowID, FlowVersion: op.d.FlowVersion, TriggerType: triggerType,
			DeliveryID: op.deliveryID, Owner: op.d.Owner}, op.runID, op.received)
		op.result.Run = row.record()
	}

	var accepted []*deliveryOp
	for _, op := range ops {
		if op.status == DeliveryAccepted {
			accepted = append(accepted, op)
		}
	}
	for _, c := range chunks(len(accepted)) {
		m := newMultiRow(postgres, `INSERT INTO runs (id, flow_id, flow_version, status, trigger_type, trigger_data, delivery_id,
			created_at, available_at, started_at, lease_owner, claims) VALUES`)
		for _, op := range accepted[c[0]:c[1]] {
			r := op.result.Run
			m.add(r.ID, r.FlowID, r.FlowVersion, r.Status, r.TriggerType, "", op.deliveryID, op.received, op.received,
				r.StartedAt, nonEmpty(op.d.Owner), r.Claims)
		}
		if _, err := conn.ExecContext(ctx, m.sql.String(), m.args...); err != nil {
			return err
		}
	}
	for _, c := range chunks(len(ops)) {
		m := newMultiRow(postgres, `INSERT INTO deliveries (id, flow_id, status, reason, http_status, method, path, query, headers,
			content_type, body, body_size, dedupe_key, run_id, received_at) VALUES`)
		for _, op := range ops[c[0]:c[1]] {
			d := op.d
			m.add(op.deliveryID, d.FlowID, op.status, d.Reason, d.HTTPStatus, d.Method, d.Path, d.Query, string(d.Headers),
				d.ContentType, op.body, d.BodySize, nonEmpty(d.DedupeKey), nonEmpty(op.runRef), op.received)
		}
		if _, err := conn.ExecContext(ctx, m.sql.String(), m.args...); err != nil {
			return err
		}
	}
	return nil
}

// dedupeHash keys a dedupe row: 63 bits of FNV-1a over flow and key.
func dedupeHash(k dedupeKey) int64 {
	h := fnv.New64a()
	h.Write([]byte(k.flowID))
	h.Write([]byte{0})
	h.Write([]byte(k.key))
	return int64(h.Sum64() >> 1)
}

// claimDedupeKeys takes each candidate's key for its run, unless the key is
// held by an earlier delivery whose window has not passed. It returns the
// keys taken, and for the others the run that holds them. Keys are looked
// up first and only new or expired ones written. On SQLite, whose single
// writer runs one transaction at a time, new keys are a plain insert. On
// Postgres, where transactions run side by side, the insert skips keys
// another transaction took meanwhile (waiting for it to commit), and an
// expired key is taken only if it is still expired once its row is locked.
// A key whose hash another key already holds (a collision, odds about
// n²/2⁶⁴) is neither taken nor held: its delivery is accepted undeduped.
func claimDedupeKeys(ctx context.Context, conn gorm.ConnPool, postgres bool, candidates []*deliveryOp) (map[dedupeKey]bool, map[dedupeKey]string, error) {
	claimed := map[dedupeKey]bool{}
	holders := map[dedupeKey]string{}
	if len(candidates) == 0 {
		return claimed, holders, nil
	}
	t := now()
	hashes := make(map[int64]dedupeKey, len(candidates))
	for _, op := range candidates {
		k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
		hashes[dedupeHash(k)] = k
	}
	expired := map[dedupeKey]bool{}
	collided := map[dedupeKey]bool{}
	for _, c := range chunks(len(candidates)) {
		m := newMultiRow(postgres, `SELECT hash, flow_id, key, run_id, expires_at FROM dedupe_keys WHERE hash IN (`)
		for i, op := range candidates[c[0]:c[1]] {
			if i > 0 {
				m.sql.WriteString(", ")
			}
			m.sql.WriteString(m.param(dedupeHash(dedupeKey{op.d.FlowID, op.d.DedupeKey})))
		}
		m.sql.WriteString(")")
		rows, err := conn.QueryContext(ctx, m.sql.String(), m.args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var hash int64
			var stored dedupeKey
			var run string
			var expires time.Time
			if err := rows.Scan(&hash, &stored.flowID, &stored.key, &run, &expires); err != nil {
				rows.Close()
				return nil, nil, err
			}
			k := hashes[hash]
			switch {
			case stored != k:
				collided[k] = true
			case expires.After(t):
				holders[k] = run
			default:
				expired[k] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	var fresh []*deliveryOp
	// Keys are taken in the order of their hashes: concurrent batches on
	// Postgres then wait for each other's keys in one order, never in a
	// cycle (a deadlock).
	candidates = slices.Clone(candidates)
	slices.SortFunc(candidates, func(a, b *deliveryOp) int {
		return cmp.Compare(dedupeHash(dedupeKey{a.d.FlowID, a.d.DedupeKey}), dedupeHash(dedupeKey{b.d.FlowID, b.d.DedupeKey}))
	})
	for _, op := range candidates {
		k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
		if _, held := holders[k]; held || collided[k] {
			continue
		}
		if !expired[k] {
			fresh = append(fresh, op)
			continue
		}
		res, err := conn.ExecContext(ctx, rebind(postgres, `UPDATE dedupe_keys SET run_id = ?, expires_at = ? WHERE hash = ? AND expires_at <= ?`),
			op.runID, op.d.DedupeUntil.UTC(), dedupeHash(k), t)
		if err != nil {
			return nil, nil, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed[k] = true
		}
	}
	for _, c := range chunks(len(fresh)) {
		m := newMultiRow(postgres, `INSERT INTO dedupe_keys (hash, flow_id, key, run_id, expires_at) VALUES`)
		for _, op := range fresh[c[0]:c[1]] {
			k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
			m.add(dedupeHash(k), k.flowID, k.key, op.runID, op.d.DedupeUntil.UTC())
		}
		if !postgres {
			if _, err := conn.ExecContext(ctx, m.sql.String(), m.args...); err != nil {
				return nil, nil, err
			}
			for _, op := range fresh[c[0]:c[1]] {
				claimed[dedupeKey{op.d.FlowID, op.d.DedupeKey}] = true
			}
			continue
		}
		m.sql.WriteString(" ON CONFLICT (hash) DO NOTHING RETURNING hash")
		rows, err := conn.QueryContext(ctx, m.sql.String(), m.args...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var hash int64
			if err := rows.Scan(&hash); err != nil {
				rows.Close()
				return nil, nil, err
			}
			claimed[hashes[hash]] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	// Keys taken by another transaction meanwhile: find who holds them.
	for _, op := range fresh {
		k := dedupeKey{op.d.FlowID, op.d.DedupeKey}
		if claimed[k] {
			continue
		}
		var run string
		row := conn.QueryRowContext(ctx, rebind(postgres, `SELECT run_id FROM dedupe_keys WHERE hash = ?`), dedupeHash(k))
		if err := row.Scan(&run); err != nil {
			return nil, nil, err
		}
		holders[k] = run
	}
	return claimed, holders, nil
}

// GetDelivery implements Store.
func (db *DB) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	var row deliveryRow
	err := db.deliveriesWithFlows(ctx).Where("deliveries.id = ?", id).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("get delivery %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return row.record()
}

// ListDeliveries implements Store.
func (db *DB) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.FlowID != "" {
		add("deliveries.flow_id = ?", f.FlowID)
	}
	if f.Status != "" {
		add("deliveries.status = ?", f.Status)
	}
	if !f.Since.IsZero() {
		add("deliveries.received_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("deliveries.received_at < ?", f.Until.UTC())
	}
	if f.Before != "" {
		add("deliveries.id < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	q := db.deliveriesWithFlows(ctx)
	if len(where) > 0 {
		q = q.Where(strings.Join(where, " AND "), args...)
	}
	var rows []deliveryRow
	if err := q.Order("deliveries.id DESC").Limit(f.Limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	out := make([]*Delivery, len(rows))
	for i := range rows {
		d, err := rows[i].record()
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out[i] = d
	}
	return out, nil
}

// deliveriesWithFlows selects deliveries with their flow's name, and
// whether the flow was deleted.
func (db *DB) deliveriesWithFlows(ctx context.Context) *gorm.DB {
	return db.read.WithContext(ctx).Table("deliveries").
		Select("deliveries.*, flows.name AS flow_name, flows.deleted_at IS NOT NULL AS flow_deleted").
		Joins("LEFT JOIN flows ON flows.id = deliveries.flow_id")
}

// FlowByHookKey implements Store.
func (db *DB) FlowByHookKey(ctx context.Context, key string) (*Flow, error) {
	var row flowWithDefinition
	res := db.currentFlows(ctx).Where("flows.hook_key = ?", key).Limit(1).Scan(&row)
	if res.Error != nil {
		return nil, fmt.Errorf("find trigger %s: %w", key, res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, fmt.Errorf("find trigger: %w", ErrNotFound)
	}
	return row.FlowRow.record(row.Definition), nil
}

// SetFlowListening implements Store.
func (db *DB) SetFlowListening(ctx context.Context, id string, until *time.Time) error {
	var value any
	if until != nil {
		value = until.UTC()
	}
	res := db.write.WithContext(ctx).Model(&flowRow{}).Where("id = ? AND deleted_at IS NULL", id).Update("listen_until", value)
	if res.Error != nil {
		return fmt.Errorf("set flow %s listening: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set flow %s listening: %w", id, ErrNotFound)
	}
	return nil
}
