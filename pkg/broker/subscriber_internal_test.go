package broker

import "testing"

func TestAckReplyFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		reply                  string
		stream, delivered, seq string
		ok                     bool
	}{
		{"v1", "$JS.ACK.EVENTS.loader-sqlite.3.1042.998.1733300000000000000.17", "EVENTS", "3", "1042", true},
		{"v2", "$JS.ACK.hub.ACCHASH.EVENTS.loader-sqlite.1.7.7.1733300000000000000.0.x1y2", "EVENTS", "1", "7", true},
		{"v2 without the random token", "$JS.ACK._.ACCHASH.EVENTS.loader-sqlite.2.9.9.1733300000000000000.0", "EVENTS", "2", "9", true},
		{"too few tokens", "$JS.ACK.EVENTS.loader-sqlite.1.7.7.1733300000000000000", "", "", "", false},
		{"ten tokens", "$JS.ACK.a.EVENTS.loader-sqlite.1.7.7.1733300000000000000.0", "", "", "", false},
		{"not an ack subject", "_INBOX.abc.def", "", "", "", false},
		{"non-numeric sequence", "$JS.ACK.EVENTS.loader-sqlite.1.x7.7.1733300000000000000.0", "", "", "", false},
		{"empty", "", "", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stream, delivered, seq, ok := ackReplyFields(tt.reply)
			if ok != tt.ok || stream != tt.stream || delivered != tt.delivered || seq != tt.seq {
				t.Fatalf("ackReplyFields(%q) = %q, %q, %q, %v; want %q, %q, %q, %v",
					tt.reply, stream, delivered, seq, ok, tt.stream, tt.delivered, tt.seq, tt.ok)
			}
		})
	}
}
