// Package natsembed runs a NATS server with JetStream inside the process: the
// real github.com/nats-io/nats-server/v2 server, used by the standalone mode
// and by component tests. Clients in the same process connect in-process
// (no TCP); other processes connect to the listen address, if any.
package natsembed

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Config configures the embedded server.
type Config struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Listen is host:port for TCP clients; "" listens nowhere (in-process
	// only); port -1 or 0 picks a free port.
	Host string
	Port int
	// NoListen disables the TCP listener.
	NoListen bool
	// SyncAlways fsyncs every write (much slower, survives power loss). The
	// default syncs every SyncInterval (the server's own default is 2m).
	SyncAlways   bool
	SyncInterval time.Duration
	// ServerName defaults to "nsflow-embedded".
	ServerName string
	// ReadyTimeout bounds the wait for the server to accept clients (default 10s).
	ReadyTimeout time.Duration
	Logger       *slog.Logger
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it is ready for clients.
func Start(cfg Config) (*Server, error) {
	if cfg.StoreDir == "" {
		return nil, errors.New("start embedded nats: StoreDir is required")
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "nsflow-embedded"
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 10 * time.Second
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	port := cfg.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:         cfg.ServerName,
		Host:               cfg.Host,
		Port:               port,
		DontListen:         cfg.NoListen,
		JetStream:          true,
		StoreDir:           cfg.StoreDir,
		SyncAlways:         cfg.SyncAlways,
		SyncInterval:       cfg.SyncInterval,
		NoSigs:             true,
		MaxPayload:         8 << 20,
		JetStreamMaxMemory: 256 << 20,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		srv.SetLoggerV2(&logAdapter{log: cfg.Logger.With("component", "nats-server")}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(cfg.ReadyTimeout) {
		srv.Shutdown()
		return nil, fmt.Errorf("start embedded nats: not ready within %s (store dir %s)", cfg.ReadyTimeout, cfg.StoreDir)
	}
	return &Server{srv: srv}, nil
}

// ClientURL is the URL TCP clients use ("" when not listening).
func (s *Server) ClientURL() string {
	if s.srv.Addr() == nil {
		return ""
	}
	return s.srv.ClientURL()
}

// InProcess is the nats.Option that connects a client in-process.
func (s *Server) InProcess() nats.Option { return nats.InProcessServer(s.srv) }

// Connect returns an in-process client connection.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect("", append([]nats.Option{s.InProcess()}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits for it to finish.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}

// NATS returns the underlying server (for tests that need to inspect it).
func (s *Server) NATS() *server.Server { return s.srv }

type logAdapter struct{ log *slog.Logger }

func (l *logAdapter) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *logAdapter) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *logAdapter) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *logAdapter) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *logAdapter) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *logAdapter) Tracef(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
