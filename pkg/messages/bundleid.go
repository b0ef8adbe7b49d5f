package messages

import (
	"crypto/sha256"
	"encoding/hex"
)

// BundleMsgID is the de-duplication id (Nats-Msg-Id) of a CredentialBundle:
// the hex SHA-256 over its credential hashes in order, each followed by a
// newline, then the operator's requeue nonce when there is one. The same
// credentials in the same order always give the same id, so a bundle
// republished after a crash (by a redelivery or the builder's sweep) is
// stored once.
func BundleMsgID(hashes []string, nonce string) string {
	h := sha256.New()
	for _, c := range hashes {
		h.Write([]byte(c))
		h.Write([]byte{'\n'})
	}
	if nonce != "" {
		h.Write([]byte("nonce:" + nonce))
	}
	return hex.EncodeToString(h.Sum(nil))
}
