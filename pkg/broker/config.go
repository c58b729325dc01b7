package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSConfig says how a service reaches NATS. It is embedded in every
// service's configuration with the NATS_ prefix.
type NATSConfig struct {
	URL       string `env:"URL" envDefault:"nats://127.0.0.1:4222"`
	CredsFile string `env:"CREDS_FILE"` // NATS user credentials (JWT + nkey seed)
	NKeyFile  string `env:"NKEY_FILE"`
	User      string `env:"USER"`
	Password  string `env:"PASSWORD"` // secret
	Token     string `env:"TOKEN"`    // secret
	TLSCA     string `env:"TLS_CA"`
	TLSCert   string `env:"TLS_CERT"`
	TLSKey    string `env:"TLS_KEY"`
	Name      string `env:"CLIENT_NAME"`
	// InboxPrefix replaces "_INBOX" for this client's reply subjects, so NATS
	// permissions can give each service user its own inbox space
	// (e.g. _INBOX_extractor.>) instead of all of _INBOX.>.
	InboxPrefix string `env:"INBOX_PREFIX"`
	// ConnectTimeout bounds the first connection; later disconnects reconnect forever.
	ConnectTimeout time.Duration `env:"CONNECT_TIMEOUT" envDefault:"10s"`
	// PublishAsyncMaxPending bounds unacknowledged async publishes per connection.
	PublishAsyncMaxPending int `env:"PUBLISH_MAX_PENDING" envDefault:"4096"`
}

// Options turns c into nats.Options with connection event logging.
func (c NATSConfig) Options(log *slog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name(c.Name),
		nats.Timeout(c.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.ReconnectBufSize(64 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Error("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats async error", "subject", subject, "err", err)
		}),
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	if c.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeyFile != "" {
		if o, err := nats.NkeyOptionFromSeed(c.NKeyFile); err == nil {
			opts = append(opts, o)
		} else {
			log.Error("nats nkey file unreadable", "path", c.NKeyFile, "err", err)
		}
	}
	if c.User != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.TLSCA != "" {
		opts = append(opts, nats.RootCAs(c.TLSCA))
	}
	if c.TLSCert != "" || c.TLSKey != "" {
		opts = append(opts, nats.ClientCert(c.TLSCert, c.TLSKey))
	}
	return opts
}

// Connect dials NATS with c. extra options (e.g. nats.InProcessServer) are
// appended last.
func Connect(ctx context.Context, c NATSConfig, log *slog.Logger, extra ...nats.Option) (*nats.Conn, error) {
	opts := append(c.Options(log), extra...)
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(c.URL, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("connect to nats at %s: %w (check NATS_URL and that the server is running)", redactURL(c.URL), r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to nats: %w", ctx.Err())
	}
}

// JetStream returns a JetStream context tuned for the pipeline's async publishing.
func JetStream(nc *nats.Conn, c NATSConfig) (jetstream.JetStream, error) {
	maxPending := c.PublishAsyncMaxPending
	if maxPending <= 0 {
		maxPending = 4096
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(maxPending),
		jetstream.WithPublishAsyncTimeout(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("create jetstream context: %w", err)
	}
	return js, nil
}

func redactURL(u string) string {
	// nats URLs may carry user:password@; keep scheme and host only.
	for i := 0; i+3 <= len(u); i++ {
		if u[i:i+3] == "://" {
			rest := u[i+3:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == '@' {
					return u[:i+3] + "***@" + rest[j+1:]
				}
				if rest[j] == '/' {
					break
				}
			}
			break
		}
	}
	return u
}

var errNoJetStream = errors.New("jetstream not enabled on the server")
