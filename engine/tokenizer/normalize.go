package tokenizer

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// normalize applies CLIP's text cleaning: html.unescape twice, whitespace
// runs to one space, strip, then Python's str.lower.
func normalize(text string) string {
	s := toValidUTF8(text)
	s = pyUnescape(pyUnescape(s))
	s = cleanWhitespace(s)
	return pyLower(s)
}

// toValidUTF8 replaces every invalid byte with U+FFFD, as decoding with
// errors="replace" would, so later steps only ever see whole runes.
func toValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		b.WriteRune(r) // range yields utf8.RuneError for each bad byte
	}
	return b.String()
}

// pyUnescape is Python's html.unescape. Named references are delegated to
// html.UnescapeString, which uses the same WHATWG table and, given the same
// entity extent, the same longest-prefix rule for legacy names without ';'
// ("&amp" and "&ampx" both work). Numeric references are decoded here because
// Go differs: Python drops control and noncharacter code points (&#1; → "")
// and maps out-of-range numbers to U+FFFD where Go's int overflows.
func pyUnescape(s string) string {
	if !strings.Contains(s, "&") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for {
		i := strings.IndexByte(s, '&')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		s = s[i:]
		if len(s) > 1 && s[1] == '#' {
			out, n := numericRef(s)
			b.WriteString(out)
			s = s[n:]
			continue
		}
		// Go's html package takes an entity name as an ASCII alphanumeric run
		// plus an optional ';'. Python's wider extent ([^\t\n\f <&#;]{1,32})
		// ends in the same match, because every entity name is alphanumeric.
		n := 1
		for n < len(s) && isASCIIAlnum(s[n]) {
			n++
		}
		if n < len(s) && s[n] == ';' {
			n++
		}
		b.WriteString(html.UnescapeString(s[:n]))
		s = s[n:]
	}
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// numericRef decodes a "&#..." reference at the start of s the way Python's
// html._replace_charref does, returning the replacement and the bytes used.
// Without digits the '&' stays literal.
func numericRef(s string) (string, int) {
	i, base := 2, 10
	if i < len(s) && (s[i] == 'x' || s[i] == 'X') {
		i, base = 3, 16
	}
	start := i
	num, overflow := 0, false
	for i < len(s) {
		d := digitVal(s[i], base)
		if d < 0 {
			break
		}
		if num > 0x10FFFF {
			overflow = true // keep scanning; Python's int never overflows
		} else {
			num = num*base + d
		}
		i++
	}
	if i == start {
		return "&", 1
	}
	if i < len(s) && s[i] == ';' {
		i++
	}
	if overflow || num > 0x10FFFF || 0xD800 <= num && num <= 0xDFFF {
		return "\uFFFD", i
	}
	if r, ok := invalidCharRefs[num]; ok {
		return string(r), i
	}
	if isInvalidCodepoint(num) {
		return "", i
	}
	return string(rune(num)), i
}

func digitVal(c byte, base int) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case base == 16 && 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case base == 16 && 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// invalidCharRefs is Python's html._invalid_charrefs: NUL, CR and the C1
// range read as Windows-1252.
var invalidCharRefs = map[int]rune{
	0x00: '\uFFFD', 0x0D: '\r',
	0x80: '\u20AC', 0x81: '\u0081', 0x82: '\u201A', 0x83: '\u0192',
	0x84: '\u201E', 0x85: '\u2026', 0x86: '\u2020', 0x87: '\u2021',
	0x88: '\u02C6', 0x89: '\u2030', 0x8A: '\u0160', 0x8B: '\u2039',
	0x8C: '\u0152', 0x8D: '\u008D', 0x8E: '\u017D', 0x8F: '\u008F',
	0x90: '\u0090', 0x91: '\u2018', 0x92: '\u2019', 0x93: '\u201C',
	0x94: '\u201D', 0x95: '\u2022', 0x96: '\u2013', 0x97: '\u2014',
	0x98: '\u02DC', 0x99: '\u2122', 0x9A: '\u0161', 0x9B: '\u203A',
	0x9C: '\u0153', 0x9D: '\u009D', 0x9E: '\u017E', 0x9F: '\u0178',
}

// isInvalidCodepoint mirrors Python's html._invalid_codepoints, which
// html.unescape replaces with nothing.
func isInvalidCodepoint(n int) bool {
	switch {
	case 0x01 <= n && n <= 0x08, n == 0x0B, 0x0E <= n && n <= 0x1F,
		0x7F <= n && n <= 0x9F, 0xFDD0 <= n && n <= 0xFDEF:
		return true
	}
	return n&0xFFFE == 0xFFFE // U+xFFFE and U+xFFFF in every plane
}

// isPySpace is Python's str.isspace, which is also what re's \s matches.
// Unlike unicode.IsSpace it includes U+001C..U+001F.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', 0x1C, 0x1D, 0x1E, 0x1F, ' ',
		0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

// cleanWhitespace strips, collapses each whitespace run to one space and
// strips again (CLIP's basic_clean strip followed by whitespace_clean).
func cleanWhitespace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		if isPySpace(r) {
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower is Python's str.lower: the simple lower-case mapping plus the two
// rules Python applies beyond it, İ → "i̇" and final sigma.
func pyLower(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i, r := range s {
		switch r {
		case 'İ':
			b.WriteString("i\u0307")
		case 'Σ':
			if finalSigma(s, i) {
				b.WriteRune('ς')
			} else {
				b.WriteRune('σ')
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// finalSigma reports whether the Σ at byte offset i is in the Final_Sigma
// context: a cased letter before it and none after it, skipping
// case-ignorable runes on both sides (CPython's handle_capital_sigma).
func finalSigma(s string, i int) bool {
	before := s[:i]
	for len(before) > 0 {
		r, size := utf8.DecodeLastRuneInString(before)
		before = before[:len(before)-size]
		if !isCaseIgnorable(r) {
			if !isCased(r) {
				return false
			}
			for _, r := range s[i+len("Σ"):] {
				if !isCaseIgnorable(r) {
					return !isCased(r)
				}
			}
			return true
		}
	}
	return false
}

// isCased is the Unicode Cased property.
func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt,
		unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// isCaseIgnorable is the Unicode Case_Ignorable property: Mn, Me, Cf, Lm, Sk
// and the Word_Break classes MidLetter, MidNumLet and Single_Quote.
func isCaseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xB7, 0x387, 0x55F, 0x5F4, 0x2018, 0x2019, 0x2024,
		0x2027, 0xFE13, 0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// split is CLIP's pre-tokenizer: it calls emit for each match of
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// (case-insensitive) in s, stopping early when emit returns false. It is
// written out by hand because RE2's \s is ASCII-only. s must already be
// cleaned and lower-cased, so the only whitespace left is ' ' and the only
// rune that matches a literal case-insensitively without being equal to it
// is ſ (U+017F), which folds to 's'.
func split(s string, emit func(piece string) bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		n := 0
		switch {
		case r == ' ':
			i += size
			continue
		case r == '<':
			n = matchFold(s[i:], "<|startoftext|>")
			if n == 0 {
				n = matchFold(s[i:], "<|endoftext|>")
			}
		case r == '\'':
			for _, c := range contractions {
				if n = matchFold(s[i:], c); n > 0 {
					break
				}
			}
		}
		if n == 0 {
			switch {
			case unicode.IsLetter(r):
				n = spanOf(s[i:], unicode.IsLetter)
			case unicode.IsNumber(r):
				n = size
			default:
				n = spanOf(s[i:], isOther)
			}
		}
		if !emit(s[i : i+n]) {
			return
		}
		i += n
	}
}

var contractions = [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

func isOther(r rune) bool {
	// After cleaning, ' ' is the only rune the `regex` module's \s can meet.
	return r != ' ' && !unicode.IsLetter(r) && !unicode.IsNumber(r)
}

// spanOf returns the byte length of the longest prefix of s whose runes all
// satisfy f.
func spanOf(s string, f func(rune) bool) int {
	for i, r := range s {
		if !f(r) {
			return i
		}
	}
	return len(s)
}

// matchFold returns the byte length of the prefix of s that equals the ASCII
// literal lit case-insensitively, or 0.
func matchFold(s, lit string) int {
	n := 0
	for j := 0; j < len(lit); j++ {
		if n >= len(s) {
			return 0
		}
		c := lit[j]
		if s[n] == c || 'a' <= c && c <= 'z' && s[n] == c-'a'+'A' {
			n++
			continue
		}
		if c == 's' && strings.HasPrefix(s[n:], "ſ") {
			n += len("ſ")
			continue
		}
		return 0
	}
	return n
}
