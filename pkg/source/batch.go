package source

import (
	"errors"
	"fmt"
)

// ErrMissingRow is matched (errors.Is) by every MissingRowError.
var ErrMissingRow = errors.New("missing row")

// MissingRowError reports a corporation that cannot be generated because a
// row it needs does not exist: its corporation row, or its type's corp_type
// row.
type MissingRowError struct {
	CorpNum string // the corporation that cannot be generated
	Table   string // bc_registries table of the missing row
	Column  string // key column
	Value   string // key value
}

func (e *MissingRowError) Error() string {
	return fmt.Sprintf("corporation %s: no row in bc_registries.%s for %s = '%s'", e.CorpNum, e.Table, e.Column, e.Value)
}

// Is makes errors.Is(err, ErrMissingRow) true.
func (e *MissingRowError) Is(target error) bool { return target == ErrMissingRow }

// Batch is the result of one Assemble (of one sourcedb.Loader.Load): a
// snapshot, or the reason there is none, for every requested corporation.
type Batch struct {
	// Snapshots holds the corporations that could be assembled.
	Snapshots map[string]*Snapshot
	// Errors holds the others (a *MissingRowError each).
	Errors map[string]error
}

// Get returns the snapshot of corpNum or the reason it has none.
func (b *Batch) Get(corpNum string) (*Snapshot, error) {
	if s, ok := b.Snapshots[corpNum]; ok {
		return s, nil
	}
	if err, ok := b.Errors[corpNum]; ok {
		return nil, err
	}
	return nil, fmt.Errorf("corporation %s: not requested in this batch", corpNum)
}
