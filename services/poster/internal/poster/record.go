package poster

import (
	"context"
	"slices"

	"github.com/bcgov/bcreg-events/pkg/eventdb"
	"github.com/bcgov/bcreg-events/pkg/eventdb/delivery"
)

// recorder records the answers of concurrent requests together (a group
// commit): answers that arrive while a MarkDelivered statement runs wait
// for it and go in the next one, so a replica's answers cost one statement
// per round instead of one per request. Each caller still returns only
// once its own answers are recorded (or the statement failed): nothing is
// acked or sent on before that, as with a statement of its own.
type recorder struct {
	db   eventdb.Querier
	reqs chan *markReq
	quit chan struct{}
	done chan struct{}
}

type markReq struct {
	outs []delivery.Outcome // with their claimers
	err  chan error         // buffered: the loop never waits for a caller
}

func newRecorder(db eventdb.Querier) *recorder {
	return &recorder{db: db, reqs: make(chan *markReq), quit: make(chan struct{}), done: make(chan struct{})}
}

// run serves mark until stop.
func (r *recorder) run() {
	defer close(r.done)
	for {
		var req *markReq
		select {
		case req = <-r.reqs:
		case <-r.quit:
			return
		}
		group := []*markReq{req}
	drain:
		for {
			select {
			case q := <-r.reqs:
				group = append(group, q)
			default:
				break drain
			}
		}
		var outs []delivery.Outcome
		for _, q := range group {
			outs = append(outs, q.outs...)
		}
		// The statement outlives the callers' contexts: an answer is
		// recorded even if its caller gave up waiting.
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		_, err := delivery.MarkDelivered(ctx, r.db, outs)
		cancel()
		for _, q := range group {
			q.err <- err
		}
	}
}

// stop ends run once no statement is running; later marks run their own
// statement.
func (r *recorder) stop() {
	close(r.quit)
	<-r.done
}

// mark records outs (each with its Claimer) with the answers of the other
// requests that arrive meanwhile.
func (r *recorder) mark(ctx context.Context, outs []delivery.Outcome) error {
	req := &markReq{outs: slices.Clone(outs), err: make(chan error, 1)}
	select {
	case r.reqs <- req:
	case <-r.quit:
		_, err := delivery.MarkDelivered(ctx, r.db, outs)
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
