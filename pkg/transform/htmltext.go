package transform

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// htmlToText renders an event message as plain text:
//
//   - tags are removed; <br> is a line break; <p> (open or close) separates
//     paragraphs with one blank line; other block tags (div, li, tr, ul, ol,
//     table, blockquote, hr, h1-h6) start a new line; the content of
//     <script> and <style> and comments are dropped;
//   - HTML entities are decoded with html.UnescapeString, after the tags are
//     removed (so "&lt;b&gt;" stays the text "<b>");
//   - runs of white space become one space, spaces next to a line break are
//     dropped, at most one blank line is kept, and the result is trimmed.
//
// A message without any tag is plain text as typed into a text area: its line
// breaks are kept (and capped like <br>). With a tag, source line breaks are
// HTML white space and count as spaces.
func htmlToText(s string) string {
	if s == "" {
		return ""
	}
	return string(appendText(make([]byte, 0, len(s)), s))
}

// appendText appends htmlToText(s) to dst.
func appendText(dst []byte, s string) []byte {
	lastGT := strings.LastIndexByte(s, '>')
	w := textWriter{b: dst, start: len(dst), plain: !hasTag(s, lastGT)}
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			w.text(s[i:])
			break
		}
		j += i
		w.text(s[i:j])
		end, name, closing, ok := scanTagBefore(s, j, lastGT)
		if !ok {
			w.text("<")
			i = j + 1
			continue
		}
		i = end
		switch name {
		case "br":
			w.breaks++
		case "p":
			w.block(2)
		case "div", "li", "tr", "ul", "ol", "table", "blockquote", "hr", "h1", "h2", "h3", "h4", "h5", "h6":
			w.block(1)
		case "script", "style":
			if !closing {
				i = skipRawText(s, i, name)
			}
		}
	}
	return w.b
}

// textWriter emits normalised text: pending white space and line breaks are
// written only in front of the next visible character, which trims the ends
// and collapses runs.
type textWriter struct {
	b      []byte
	start  int // len(b) when the text began
	plain  bool
	space  bool // white space pending
	breaks int  // <br> (or plain newlines) pending
	need   int  // line breaks a block boundary needs (1 or 2)
}

func (w *textWriter) block(n int) { w.need = max(w.need, n) }

// text decodes entities in a run of character data and writes it. A run
// whose entities are all common ones (see commonEntity) is decoded piece by
// piece as it is written, which gives what html.UnescapeString would: an
// entity's text is whole runes, so it neither completes nor splits a rune of
// the text around it, and holds no line break. At the first other entity
// the writer goes back to where the run began and writes it through
// html.UnescapeString instead.
func (w *textWriter) text(s string) {
	saved := *w
	for rest := s; ; {
		i := strings.IndexByte(rest, '&')
		if i < 0 {
			w.write(rest)
			return
		}
		w.write(rest[:i])
		n, text := commonEntity(rest[i:])
		if n == 0 {
			*w = saved
			w.write(html.UnescapeString(s))
			return
		}
		w.write(text)
		rest = rest[i+n:]
	}
}

// commonEntity returns the length and text of the entity s starts with
// when it is one rich-text editors write (&amp; &lt; &gt; &quot; &#39;
// &apos; &nbsp;), with the text html.UnescapeString gives it; n is 0 for
// any other.
func commonEntity(s string) (n int, text string) {
	if len(s) < 4 {
		return 0, ""
	}
	var lit string
	switch s[1] {
	case 'a':
		lit, text = "&amp;", "&"
		if s[2] == 'p' {
			lit, text = "&apos;", "'"
		}
	case 'l':
		lit, text = "&lt;", "<"
	case 'g':
		lit, text = "&gt;", ">"
	case 'q':
		lit, text = "&quot;", `"`
	case '#':
		lit, text = "&#39;", "'"
	case 'n':
		lit, text = "&nbsp;", "\u00a0"
	default:
		return 0, ""
	}
	if !strings.HasPrefix(s, lit) {
		return 0, ""
	}
	return len(lit), text
}

// write writes the decoded text s.
func (w *textWriter) write(s string) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && c > ' ' {
			// A run of visible ASCII goes in at once.
			w.flush()
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] > ' ' {
				j++
			}
			w.b = append(w.b, s[i:j]...)
			i = j
			continue
		}
		if c == ' ' {
			w.space = true
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == '\r' && w.plain:
			if i < len(s) && s[i] == '\n' {
				i++
			}
			w.breaks++
		case r == '\n' && w.plain:
			w.breaks++
		case unicode.IsSpace(r):
			w.space = true
		default:
			w.flush()
			w.b = utf8.AppendRune(w.b, r)
		}
	}
}

func (w *textWriter) flush() {
	if w.space || w.breaks > 0 || w.need > 0 {
		w.flushPending()
	}
}

func (w *textWriter) flushPending() {
	if len(w.b) > w.start {
		if n := min(max(w.breaks, w.need), 2); n > 0 {
			w.b = append(w.b, "\n\n"[:n]...)
		} else if w.space {
			w.b = append(w.b, ' ')
		}
	}
	w.space, w.breaks, w.need = false, 0, 0
}

// hasTag reports whether s contains at least one complete tag or comment.
func hasTag(s string, lastGT int) bool {
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '<')
		if j < 0 {
			return false
		}
		if _, _, _, ok := scanTagBefore(s, i+j, lastGT); ok {
			return true
		}
		i += j + 1
	}
	return false
}

// scanTagBefore is scanTag knowing that s has no '>' after lastGT: a tag
// that starts later cannot end, which keeps a message full of unclosed
// "<a" linear.
func scanTagBefore(s string, i, lastGT int) (end int, name string, closing, ok bool) {
	if i > lastGT && !strings.HasPrefix(s[i:], "<!--") {
		return 0, "", false, false
	}
	return scanTag(s, i)
}

// scanTag reads the tag, comment or declaration starting at s[i] == '<'. It
// returns the index past it and the lower-case tag name; ok is false when
// s[i] does not start markup (a lone "<", as in "a < b") or the tag is never
// closed.
func scanTag(s string, i int) (end int, name string, closing, ok bool) {
	j := i + 1
	if strings.HasPrefix(s[j:], "!--") {
		k := strings.Index(s[j+3:], "-->")
		if k < 0 {
			return len(s), "", false, true // an unterminated comment runs to the end
		}
		return j + 3 + k + 3, "", false, true
	}
	if j < len(s) && (s[j] == '!' || s[j] == '?') {
		k := strings.IndexByte(s[j:], '>')
		if k < 0 {
			return 0, "", false, false
		}
		return j + k + 1, "", false, true
	}
	if j < len(s) && s[j] == '/' {
		closing = true
		j++
	}
	start := j
	for j < len(s) && isASCIIAlnum(s[j]) {
		j++
	}
	if j == start || !isASCIILetter(s[start]) {
		return 0, "", false, false
	}
	name = s[start:j]
	for k := start; k < j; k++ {
		if s[k] >= 'A' && s[k] <= 'Z' {
			name = strings.ToLower(name)
			break
		}
	}
	gt := strings.IndexByte(s[j:], '>')
	if gt < 0 {
		return 0, "", false, false
	}
	gt += j
	// A '>' may sit inside a quoted attribute value. Look for the real end
	// within a bounded window, so that hostile input stays linear; past it,
	// or when quotes never close, the first '>' ends the tag.
	if hasQuote(s[j:gt]) {
		var quote byte
		for k, end := j, min(len(s), j+maxTagScan); k < end; k++ {
			c := s[k]
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '>':
				return k + 1, name, closing, true
			}
		}
	}
	return gt + 1, name, closing, true
}

// hasQuote reports whether s holds a double or a single quote.
func hasQuote(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\'' {
			return true
		}
	}
	return false
}

// maxTagScan bounds the quote-aware search for the end of one tag.
const maxTagScan = 1024

// skipRawText skips the content of a script or style element up to and
// including its end tag.
func skipRawText(s string, i int, name string) int {
	for k := i; ; {
		j := strings.Index(s[k:], "</")
		if j < 0 {
			return len(s)
		}
		k += j + 2
		n := k + len(name)
		if n <= len(s) && strings.EqualFold(s[k:n], name) && (n == len(s) || !isASCIIAlnum(s[n])) {
			gt := strings.IndexByte(s[n:], '>')
			if gt < 0 {
				return len(s)
			}
			return n + gt + 1
		}
	}
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isASCIIAlnum(c byte) bool  { return isASCIILetter(c) || (c >= '0' && c <= '9') }
