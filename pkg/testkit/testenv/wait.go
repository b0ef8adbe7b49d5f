package testenv

import (
	"testing"
	"time"
)

// Guard is the upper bound of every wait in the tests. It only stops a
// broken test: no test relies on anything happening within a time, so a
// busy machine never reaches it (docs/design/testing.md).
const Guard = time.Minute

// pollPause is the pause between two looks at a condition.
const pollPause = 10 * time.Millisecond

// WaitFor polls cond until it holds; after Guard the test fails.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("nothing after %v waiting for %s", Guard, what)
		}
		time.Sleep(pollPause)
	}
}
