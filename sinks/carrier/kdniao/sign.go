package kdniao

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
)

// Sign returns the DataSign of requestData: base64 (standard alphabet) of the lowercase hex MD5
// of requestData+appKey. requestData must be the JSON text exactly as sent, before form encoding.
func Sign(requestData, appKey string) string {
	sum := md5.Sum([]byte(requestData + appKey))
	var hexSum [2 * md5.Size]byte
	hex.Encode(hexSum[:], sum[:])
	return base64.StdEncoding.EncodeToString(hexSum[:])
}

// Verify reports whether sign is the DataSign of requestData under appKey. requestData must be
// the text exactly as received: re-marshalling JSON changes bytes (Go escapes & as \u0026) and
// breaks the signature. The comparison takes constant time.
func Verify(requestData, appKey, sign string) bool {
	return subtle.ConstantTimeCompare([]byte(Sign(requestData, appKey)), []byte(sign)) == 1
}
