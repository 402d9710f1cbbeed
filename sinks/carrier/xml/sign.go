package sfxml

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
)

// Sign returns the verifyCode of doc: the standard Base64 of the raw 16-byte MD5 digest of the
// UTF-8 bytes of doc followed by checkword (24 characters ending in "=="). doc must be the XML
// text exactly as sent, before form encoding.
func Sign(doc, checkword string) string {
	sum := md5.Sum([]byte(doc + checkword))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Verify reports whether code is the verifyCode of doc under checkword. doc must be the text
// exactly as received: re-encoding the XML changes bytes (quotes, attribute order, escapes)
// and breaks the code. An empty checkword never verifies: anyone could compute that code. The
// comparison takes constant time.
func Verify(doc, checkword, code string) bool {
	if checkword == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Sign(doc, checkword)), []byte(code)) == 1
}
