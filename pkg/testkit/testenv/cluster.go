package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/bcgov/bcreg-events/pkg/testkit/localpg"
)

// ClusterName is the NATS cluster's name, as the production chart names it
// (the Helm release `nats`). Production sets no JetStream domain, so the
// test cluster sets none either (docs/design/cluster.md).
const ClusterName = "nats"

// ClusterNodeConfig is one node of a test cluster: what a node needs to
// start, restart on the same store, and find its peers.
type ClusterNodeConfig struct {
	Name        string   `json:"name"`
	StoreDir    string   `json:"store_dir"`
	Port        int      `json:"port"`
	ClusterPort int      `json:"cluster_port"`
	Routes      []string `json:"routes"`
	LogFile     string   `json:"log_file"`
}

func (c ClusterNodeConfig) options() *server.Options {
	return &server.Options{
		ServerName: c.Name,
		Host:       "127.0.0.1",
		Port:       c.Port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		NoSigs:     true,
		LogFile:    c.LogFile,
		Cluster:    server.ClusterOpts{Name: ClusterName, Host: "127.0.0.1", Port: c.ClusterPort},
		Routes:     server.RoutesFromStr(strings.Join(c.Routes, ",")),
	}
}

// URL is the node's client URL.
func (c ClusterNodeConfig) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", c.Port) }

// ClusterNode is one node of a Cluster and its current server (an embedded
// one, or a process of the test binary).
type ClusterNode struct {
	ClusterNodeConfig
	srv  *server.Server
	cmd  *exec.Cmd
	done chan struct{}
}

// Running reports whether the node is up (started and not stopped).
func (n *ClusterNode) Running() bool { return n.srv != nil || n.cmd != nil }

// Cluster is a JetStream cluster of three nodes on loopback, with routes
// between them and a file store each: the production topology
// (deploy/nats/values-prod.yaml) in small. Each node keeps its ports and
// store across Stop/Kill and Start, as a StatefulSet pod keeps its name and
// volume.
type Cluster struct {
	t     testing.TB
	procs bool
	Nodes []*ClusterNode
}

// ClusterOption changes how NewCluster runs the nodes.
type ClusterOption func(*Cluster)

// WithNodeProcesses runs each node as a process of its own (the test
// binary re-executed; its TestMain must call Run), so Kill is a real
// SIGKILL: the node's store loses whatever it had not written, as a
// crashed pod's does. Without it the nodes are embedded servers and Kill
// is an abrupt in-process shutdown.
func WithNodeProcesses() ClusterOption { return func(c *Cluster) { c.procs = true } }

// NewCluster starts a three-node JetStream cluster and waits until it has
// a JetStream meta leader. Everything is stopped when the test ends.
func NewCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	for _, o := range opts {
		o(c)
	}
	dir := t.TempDir()
	var routes []string
	for i := 0; i < 3; i++ {
		port, err1 := localpg.FreePort()
		cport, err2 := localpg.FreePort()
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("testenv: cluster ports: %v", err)
		}
		name := fmt.Sprintf("nats-%d", i)
		c.Nodes = append(c.Nodes, &ClusterNode{ClusterNodeConfig: ClusterNodeConfig{
			Name: name, StoreDir: filepath.Join(dir, name), Port: port, ClusterPort: cport,
			LogFile: filepath.Join(dir, name+".log"),
		}})
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", cport))
	}
	for _, n := range c.Nodes {
		n.Routes = routes
	}
	t.Cleanup(func() {
		for i := range c.Nodes {
			c.Kill(i)
		}
		if t.Failed() {
			c.logTails()
		}
	})
	for i := range c.Nodes {
		c.Start(i)
	}
	c.WaitMetaLeader()
	return c
}

// URLs is every node's client URL, comma separated: BCREG_NATS_URL of a
// service of the cluster.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL()
	}
	return strings.Join(urls, ",")
}

// Connect opens a client connection to the cluster (any node, reconnecting
// forever) and a JetStream handle, closed when the test ends.
func (c *Cluster) Connect(t testing.TB) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("testenv: cluster connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return nc, js
}

// Start starts node i on its store and ports and waits until it accepts
// clients.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	n := c.Nodes[i]
	if n.Running() {
		c.t.Fatalf("testenv: %s is running", n.Name)
	}
	if !c.procs {
		s, err := server.NewServer(n.options())
		if err != nil {
			c.t.Fatalf("testenv: %s: %v", n.Name, err)
		}
		s.ConfigureLogger()
		go s.Start()
		if !s.ReadyForConnections(Guard) {
			c.t.Fatalf("testenv: %s not ready", n.Name)
		}
		n.srv = s
		return
	}
	cfg, err := json.Marshal(n.ClusterNodeConfig)
	if err != nil {
		c.t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		c.t.Fatalf("testenv: own executable: %v", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), nodeEnv+"="+string(cfg))
	cmd.SysProcAttr = nodeAttr()
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("testenv: start %s: %v", n.Name, err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(n.done)
	WaitFor(c.t, n.Name+" accepting clients", func() bool {
		select {
		case <-n.done:
			c.t.Fatalf("testenv: %s exited at start (log %s)", n.Name, n.LogFile)
		default:
		}
		nc, err := nats.Connect(n.URL(), nats.NoReconnect())
		if err != nil {
			return false
		}
		nc.Close()
		return true
	})
}

// Kill stops node i at once: SIGKILL of a node process (its unwritten
// data is lost), or an embedded server's shutdown. A stopped node is left
// alone.
func (c *Cluster) Kill(i int) { c.stop(i, syscall.SIGKILL) }

// Stop stops node i in order (SIGTERM of a node process, as Kubernetes
// stops a pod; an embedded server's shutdown) and waits until it is gone.
func (c *Cluster) Stop(i int) { c.stop(i, syscall.SIGTERM) }

func (c *Cluster) stop(i int, sig syscall.Signal) {
	n := c.Nodes[i]
	switch {
	case n.srv != nil:
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	case n.cmd != nil:
		_ = n.cmd.Process.Signal(sig)
		select {
		case <-n.done:
		case <-time.After(Guard):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		n.cmd = nil
	}
}

// Index is the index of the node named name, or -1.
func (c *Cluster) Index(name string) int {
	for i, n := range c.Nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// WaitMetaLeader waits until the cluster has a JetStream meta leader (the
// JetStream API answers).
func (c *Cluster) WaitMetaLeader() {
	c.t.Helper()
	_, js := c.Connect(c.t)
	WaitFor(c.t, "a JetStream meta leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err == nil
	})
}

// StreamLeader is the name of the node leading stream (after waiting for
// one).
func (c *Cluster) StreamLeader(js jetstream.JetStream, stream string) string {
	c.t.Helper()
	var leader string
	WaitFor(c.t, "a leader of "+stream, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		if ci := s.CachedInfo().Cluster; ci != nil {
			leader = ci.Leader
		}
		return leader != ""
	})
	return leader
}

// ConsumerLeader is the name of the node leading a durable consumer (after
// waiting for one).
func (c *Cluster) ConsumerLeader(js jetstream.JetStream, stream, consumer string) string {
	c.t.Helper()
	var leader string
	WaitFor(c.t, "a leader of "+stream+"/"+consumer, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cons, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return false
		}
		if ci := cons.CachedInfo().Cluster; ci != nil {
			leader = ci.Leader
		}
		return leader != ""
	})
	return leader
}

// StepDownStream asks the leader of stream to step down and waits until
// another node leads it.
func (c *Cluster) StepDownStream(nc *nats.Conn, js jetstream.JetStream, stream string) (from, to string) {
	c.t.Helper()
	from = c.StreamLeader(js, stream)
	c.stepDown(nc, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, from, func() string { return c.StreamLeader(js, stream) })
	return from, c.StreamLeader(js, stream)
}

// StepDownConsumer asks the leader of a durable consumer to step down and
// waits until another node leads it.
func (c *Cluster) StepDownConsumer(nc *nats.Conn, js jetstream.JetStream, stream, consumer string) (from, to string) {
	c.t.Helper()
	from = c.ConsumerLeader(js, stream, consumer)
	c.stepDown(nc, "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+consumer, from, func() string { return c.ConsumerLeader(js, stream, consumer) })
	return from, c.ConsumerLeader(js, stream, consumer)
}

func (c *Cluster) stepDown(nc *nats.Conn, subject, from string, leader func() string) {
	c.t.Helper()
	WaitFor(c.t, "a new leader after "+subject, func() bool {
		if l := leader(); l != from && l != "" {
			return true
		}
		// Asked again while the old leader still leads: a request sent
		// during an election is answered with an error and changes nothing.
		_, _ = nc.Request(subject, nil, 2*time.Second)
		return false
	})
}

// WaitCurrent waits until every running node has caught up with the
// leader of stream (its replica is current), as after a node's return.
func (c *Cluster) WaitCurrent(js jetstream.JetStream, stream string) {
	c.t.Helper()
	WaitFor(c.t, "every replica of "+stream+" current", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return false
		}
		ci := s.CachedInfo().Cluster
		if ci == nil || ci.Leader == "" {
			return false
		}
		running := 0
		for _, n := range c.Nodes {
			if n.Running() {
				running++
			}
		}
		current := 1 // the leader
		for _, r := range ci.Replicas {
			if r.Current && !r.Offline {
				current++
			}
		}
		return current >= running
	})
}

// logTails prints the end of each node's log (a failed test's evidence).
func (c *Cluster) logTails() {
	for _, n := range c.Nodes {
		b, err := os.ReadFile(n.LogFile)
		if err != nil {
			continue
		}
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		c.t.Logf("--- %s log (end) ---\n%s", n.Name, b)
	}
}

// nodeEnv carries a node's configuration to a re-executed test binary.
const nodeEnv = "BCREG_TESTENV_NATS_NODE"

// serveNode runs the cluster node of nodeEnv when it is set, until SIGTERM
// or SIGINT, and reports whether it did: the test binary is then a node,
// not a test run.
func serveNode() bool {
	raw := os.Getenv(nodeEnv)
	if raw == "" {
		return false
	}
	var cfg ClusterNodeConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %s: %v\n", nodeEnv, err)
		os.Exit(2)
	}
	s, err := server.NewServer(cfg.options())
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %s: %v\n", cfg.Name, err)
		os.Exit(1)
	}
	s.ConfigureLogger()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go s.Start()
	<-sigs
	s.Shutdown()
	s.WaitForShutdown()
	return true
}
