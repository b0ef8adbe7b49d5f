package bus

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Failure is a handler's failure of one message with the context the
// consume loop logs it with: the corporation and any other fields (the
// agent, a count). The handler returns it (marked Permanent, RetryAfter or
// Wait as the case needs) and does not log it: the loop logs each
// message's outcome once, with the message's id and these fields.
type Failure struct {
	CorpNum string
	Fields  []zap.Field
	Err     error
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Fail returns err as a Failure of corporation corpNum with fields (nil
// stays nil).
func Fail(corpNum string, err error, fields ...zap.Field) error {
	if err == nil {
		return nil
	}
	return &Failure{CorpNum: corpNum, Fields: fields, Err: err}
}

// permanentError marks a failure that no retry can fix: the message is
// dead-lettered and terminated.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent. Handlers return it for bad input (an
// undecodable message, a corporation that cannot be described).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// retryError asks for a redelivery after a given delay (for example the
// agent's Retry-After, or a bundle waiting for an older one).
type retryError struct {
	err   error
	delay time.Duration
	// counts says whether this retry is a failure (for back-off and the
	// delivery limit) or a deliberate wait.
	counts bool
}

func (e retryError) Error() string { return e.err.Error() }
func (e retryError) Unwrap() error { return e.err }

// RetryAfter marks err as transient with an explicit redelivery delay.
func RetryAfter(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return retryError{err: err, delay: d, counts: true}
}

// Wait asks for a redelivery after d without it being a failure: it is
// never dead-lettered by the loop except on JetStream's last delivery.
func Wait(reason error, d time.Duration) error {
	return retryError{err: reason, delay: d}
}

// Every other non-nil error a handler returns is transient: redelivered
// after an exponential back-off with jitter.
