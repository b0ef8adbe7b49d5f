package dlqops

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bcgov/bcreg-events/pkg/bus"
	"github.com/bcgov/bcreg-events/pkg/messages"
)

// TestRetryRejected: a requeued bundle goes back flagged retry_rejected;
// anything else goes back as it was.
func TestRetryRejected(t *testing.T) {
	bundle := messages.CredentialBundle{V: 1, System: "BC_REG", CorpNum: "C3",
		Credentials: []messages.Credential{{Hash: "h1", Schema: "s", Version: "1"}}}
	plain, _ := messages.Encode(bundle)
	bundle.RetryRejected = true
	flagged, _ := messages.Encode(bundle)
	tests := []struct {
		name   string
		stream string
		data   []byte
		want   []byte
	}{
		{"a bundle is flagged", bus.StreamCreds, plain, flagged},
		{"a flagged bundle stays flagged", bus.StreamCreds, flagged, flagged},
		{"an undecodable bundle goes back as it was", bus.StreamCreds, []byte("{not json"), []byte("{not json")},
		{"a CorpEvent goes back as it was", bus.StreamEvents, plain, plain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := retryRejected(messages.DeadLetter{OriginalStream: tt.stream}, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(tt.want), string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
