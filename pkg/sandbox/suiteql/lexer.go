package suiteql

import (
	"strings"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tQuotedIdent
	tString
	tNumber
	tOp // punctuation and operators
)

type token struct {
	kind tokKind
	text string // identifiers lowercased; strings unescaped; operators as written
	raw  string // source text
	pos  int
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tString:
		return "'" + t.text + "'"
	}
	return "'" + t.raw + "'"
}

// lex splits src into tokens. Comments (-- and /* */) are skipped.
func lex(src string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(src) {
			c := src[i]
			if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
				i++
				continue
			}
			if strings.HasPrefix(src[i:], "--") {
				for i < len(src) && src[i] != '\n' {
					i++
				}
				continue
			}
			if strings.HasPrefix(src[i:], "/*") {
				end := strings.Index(src[i+2:], "*/")
				if end < 0 {
					return nil, errorf(i, "Syntax error: unterminated comment at position %d", i+1)
				}
				i += end + 4
				continue
			}
			break
		}
		if i >= len(src) {
			toks = append(toks, token{kind: tEOF, pos: i})
			return toks, nil
		}
		start := i
		c := src[i]
		switch {
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			toks = append(toks, token{kind: tIdent, text: strings.ToLower(src[start:i]), raw: src[start:i], pos: start})
		case c == '"':
			end := strings.IndexByte(src[i+1:], '"')
			if end < 0 {
				return nil, errorf(start, "Syntax error: unterminated quoted identifier at position %d", start+1)
			}
			name := src[i+1 : i+1+end]
			i += end + 2
			if name == "" {
				return nil, errorf(start, "Syntax error: empty quoted identifier at position %d", start+1)
			}
			toks = append(toks, token{kind: tQuotedIdent, text: strings.ToLower(name), raw: src[start:i], pos: start})
		case c == '\'':
			var sb strings.Builder
			i++
			closed := false
			for i < len(src) {
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						sb.WriteByte('\'')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				sb.WriteByte(src[i])
				i++
			}
			if !closed {
				return nil, errorf(start, "Syntax error: unterminated string literal at position %d", start+1)
			}
			toks = append(toks, token{kind: tString, text: sb.String(), raw: src[start:i], pos: start})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			for i < len(src) && src[i] >= '0' && src[i] <= '9' {
				i++
			}
			if i < len(src) && src[i] == '.' {
				i++
				for i < len(src) && src[i] >= '0' && src[i] <= '9' {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && src[j] >= '0' && src[j] <= '9' {
					i = j
					for i < len(src) && src[i] >= '0' && src[i] <= '9' {
						i++
					}
				}
			}
			if i < len(src) && isIdentStart(src[i]) {
				return nil, errorf(start, "Syntax error: invalid number '%s' at position %d", src[start:i+1], start+1)
			}
			toks = append(toks, token{kind: tNumber, text: src[start:i], raw: src[start:i], pos: start})
		default:
			op := ""
			for _, two := range []string{"<=", ">=", "<>", "!=", "^=", "||"} {
				if strings.HasPrefix(src[i:], two) {
					op = two
					break
				}
			}
			if op == "" {
				if strings.IndexByte("=<>(),.*+-/;?", c) < 0 {
					r, _ := decodeRune(src[i:])
					return nil, errorf(start, "Syntax error: unexpected character %q at position %d", string(r), start+1)
				}
				op = src[i : i+1]
			}
			i += len(op)
			toks = append(toks, token{kind: tOp, text: op, raw: op, pos: start})
		}
	}
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' || c == '#'
}
