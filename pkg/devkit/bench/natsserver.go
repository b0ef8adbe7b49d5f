package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// natsClusterName is the cluster's name, as the production chart names it
// (and pkg/testkit/testenv's test cluster): the Helm release `nats`.
const natsClusterName = "nats"

// NATSNode is how the bench's NATS child runs: a single server (no
// ClusterPort), or one node of a cluster with routes to every node.
type NATSNode struct {
	Name        string   // server name: a node keeps it across a store copy
	Store       string   // JetStream store directory
	Port        int      // client port on 127.0.0.1
	ClusterPort int      // route port on 127.0.0.1 (0: no cluster)
	Routes      []string // nats-route:// URLs of every node
}

// options are the server's options.
func (n NATSNode) options() *server.Options {
	o := &server.Options{ServerName: n.Name, Host: "127.0.0.1", Port: n.Port,
		JetStream: true, StoreDir: n.Store, NoSigs: true, NoLog: true,
		// Stream limits are reservations against this, not allocations:
		// the bench checks the real free disk itself.
		JetStreamMaxStore: 256 << 30}
	if n.ClusterPort != 0 {
		o.Cluster = server.ClusterOpts{Name: natsClusterName, Host: "127.0.0.1", Port: n.ClusterPort}
		o.Routes = server.RoutesFromStr(strings.Join(n.Routes, ","))
	}
	return o
}

// args are the arguments of `bcreg-dev bench _nats` that run n.
func (n NATSNode) args() []string {
	a := []string{"bench", NATSMode, "--name", n.Name, "--store", n.Store, "--port", strconv.Itoa(n.Port)}
	if n.ClusterPort != 0 {
		a = append(a, "--cluster-port", strconv.Itoa(n.ClusterPort), "--routes", strings.Join(n.Routes, ","))
	}
	return a
}

// ParseNATSArgs reads the arguments args made (after "bench _nats").
func ParseNATSArgs(args []string) (NATSNode, error) {
	fs := flag.NewFlagSet("bench "+NATSMode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	n := NATSNode{}
	var routes string
	fs.StringVar(&n.Name, "name", "bcreg-bench", "server name")
	fs.StringVar(&n.Store, "store", "", "JetStream store directory")
	fs.IntVar(&n.Port, "port", 0, "client port on 127.0.0.1")
	fs.IntVar(&n.ClusterPort, "cluster-port", 0, "route port on 127.0.0.1 (a cluster node)")
	fs.StringVar(&routes, "routes", "", "nats-route:// URLs of every node, comma separated")
	if err := fs.Parse(args); err != nil {
		return n, fmt.Errorf("bench %s: %w", NATSMode, err)
	}
	switch {
	case fs.NArg() > 0:
		return n, fmt.Errorf("bench %s: unexpected arguments %v", NATSMode, fs.Args())
	case n.Store == "" || n.Port == 0:
		return n, fmt.Errorf("bench %s: --store and --port are required", NATSMode)
	case (n.ClusterPort == 0) != (routes == ""):
		return n, fmt.Errorf("bench %s: --cluster-port and --routes go together", NATSMode)
	}
	if routes != "" {
		n.Routes = strings.Split(routes, ",")
	}
	return n, nil
}

func (n NATSNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.Port) }

// natsNodes lays out the NATS of a run with the given JetStream replicas:
// one server on store, or a cluster of that many nodes, each with its own
// store under store (so a copy of store copies the whole cluster) and a
// name that a restart on the copy keeps (the replica groups know their
// peers by name). ports hands out free ports.
func natsNodes(store string, replicas int, ports func() (int, error)) ([]NATSNode, error) {
	if replicas <= 1 {
		p, err := ports()
		if err != nil {
			return nil, err
		}
		return []NATSNode{{Name: "bcreg-bench", Store: store, Port: p}}, nil
	}
	nodes := make([]NATSNode, replicas)
	var routes []string
	for i := range nodes {
		p, err1 := ports()
		cp, err2 := ports()
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("nats-%d", i)
		nodes[i] = NATSNode{Name: name, Store: filepath.Join(store, name), Port: p, ClusterPort: cp}
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", cp))
	}
	for i := range nodes {
		nodes[i].Routes = routes
	}
	return nodes, nil
}

// ServeNATS runs the NATS node n with JetStream until ctx ends (the
// bench's NATS child: a process of its own, so its CPU and memory are
// measured like the services').
func ServeNATS(ctx context.Context, n NATSNode) error {
	s, err := server.NewServer(n.options())
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(2 * time.Minute) {
		s.Shutdown()
		return errors.New("bench: NATS did not start within 2m")
	}
	<-ctx.Done()
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
