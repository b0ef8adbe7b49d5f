package localpg

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortIsBelowTheEphemeralRange: the port is free to listen on and,
// where the kernel says where its ephemeral range starts, below it, so no
// outgoing connection takes it before its server binds it.
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if lo := ephemeralLow(); lo > freePortFloor+1000 && (port < freePortFloor || port >= lo) {
			t.Errorf("port %d, want %d ≤ port < %d", port, freePortFloor, lo)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		l.Close()
	}
}
