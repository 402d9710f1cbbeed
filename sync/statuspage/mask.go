package statuspage

import (
	"strings"
	"unicode/utf8"
)

// phoneSeparators are kept as they are by MaskPhone; every other rune is a position.
const phoneSeparators = " -+()."

// MaskPhone hides the middle of a phone number: "13812345678" becomes "138****5678". The first 3
// and the last 4 positions stay visible, and only when they are ASCII digits and at least 11
// positions exist, so that at least 4 are hidden; shorter numbers are masked completely. Spaces,
// '-', '+', '(', ')' and '.' are kept; any other rune counts as a position and, unless it is a
// visible digit, becomes '*'. Masking a masked number changes nothing.
func MaskPhone(s string) string {
	s = strings.TrimSpace(s)
	n := 0
	for _, r := range s {
		if !strings.ContainsRune(phoneSeparators, r) {
			n++
		}
	}
	reveal := n >= 11
	var b strings.Builder
	i := 0
	for _, r := range s {
		if strings.ContainsRune(phoneSeparators, r) {
			b.WriteRune(r)
			continue
		}
		if reveal && (i < 3 || i >= n-4) && r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
}

// MaskName keeps the first rune of a name and replaces the rest with at most three '*', so the
// length of a long name does not show: "张伟" becomes "张*", "Zhang Wei" becomes "Z***". A name of
// one rune becomes "*".
func MaskName(s string) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch n {
	case 0:
		return ""
	case 1:
		return "*"
	}
	first, _ := utf8.DecodeRuneInString(s)
	return string(first) + strings.Repeat("*", min(n-1, 3))
}

// MaskAddress keeps the first 6 runes of an address (in a Chinese address: the province, city or
// district) followed by "…". An address of fewer than 12 runes keeps only its first half, so a
// short address is never shown almost whole.
func MaskAddress(s string) string {
	rs := []rune(strings.TrimSpace(s))
	if len(rs) == 0 {
		return ""
	}
	return string(rs[:min(6, len(rs)/2)]) + "…"
}
