package bus

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headroom is the room a message's data leaves below the server's max
// payload, for its headers (message id, corporation) and for those of the
// dead-letter copy of it, which carries the same bytes (see
// docs/design/dead-letters.md). Publishers that split work by size (the
// outbox's bundles) keep each message's data within MaxData.
const Headroom = 4 << 10

// MaxData is the most data one message may carry on js's connection: the
// server's max payload less Headroom.
func MaxData(js jetstream.JetStream) int {
	return int(js.Conn().MaxPayload()) - Headroom
}

// TooLargeError is a publish the client refused because the message
// exceeds the server's max payload: no retry can store it.
type TooLargeError struct {
	Subject, MsgID, CorpNum string
	// Size is the message's data in bytes (its headers come on top); Max
	// the server's max payload.
	Size int
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("corporation %q: message %s on %s has %d bytes of data, over the server's max payload of %d bytes",
		e.CorpNum, e.MsgID, e.Subject, e.Size, e.Max)
}

// Unwrap makes errors.Is(err, nats.ErrMaxPayload) hold.
func (e *TooLargeError) Unwrap() error { return nats.ErrMaxPayload }

// IsTooLarge reports whether err is a refused publish of a message larger
// than the server's max payload.
func IsTooLarge(err error) bool { return errors.Is(err, nats.ErrMaxPayload) }
