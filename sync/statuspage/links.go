package statuspage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// LinkLifetime is how long a signed label link opens its document.
const LinkLifetime = 15 * time.Minute

// LinkKey derives the key that signs label links from the admin token. A browser cannot send
// the token's header when it opens a link in a new tab, so a label document the page links to
// carries a signature instead, which opens that document alone, for LinkLifetime.
func LinkKey(token string) []byte {
	k := sha256.Sum256([]byte("shipsync label link\x00" + token))
	return k[:]
}

// WithLinkKey signs the label links the page is given (LinkKey of admin.token); without one
// they are plain paths.
func (h *Handler) WithLinkKey(key []byte) *Handler {
	h.linkKey = key
	return h
}

// link returns the page-relative path p ("labels/unprinted"), signed when there is a key.
func (h *Handler) link(p string) string {
	return Sign(h.linkKey, p, time.Now().Add(LinkLifetime))
}

// Sign returns the page-relative path p escaped, with a signature made with key that lets it
// through until exp; without a key, the path alone.
func Sign(key []byte, p string, exp time.Time) string {
	// The path as the server will see it, escaped as the browser will send it.
	u := url.URL{Path: p}
	rel := u.EscapedPath()
	if key == nil {
		return rel
	}
	e := strconv.FormatInt(exp.Unix(), 10)
	return rel + "?exp=" + e + "&sig=" + linkSig(key, "/"+strings.TrimPrefix(u.Path, "/"), e)
}

func linkSig(key []byte, path, exp string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(path + "\n" + exp))
	return hex.EncodeToString(m.Sum(nil))
}

// SignedLink reports whether r is a GET of a label document (/labels/{which} or
// /api/labels/{waybill}) with a valid, unexpired signature made with key.
func SignedLink(r *http.Request, key []byte) bool {
	if key == nil || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	p := r.URL.Path
	rest, ok := strings.CutPrefix(p, "/labels/")
	if !ok {
		rest, ok = strings.CutPrefix(p, "/api/labels/")
	}
	if !ok || rest == "" || strings.Contains(rest, "/") {
		return false
	}
	q := r.URL.Query()
	exp, sig := q.Get("exp"), q.Get("sig")
	at, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || time.Now().Unix() > at || at > time.Now().Add(LinkLifetime+time.Minute).Unix() {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(linkSig(key, p, exp)))
}

// Shell reports whether r asks for the page's shell (the page, its script and its style): GET
// only, and none of them carries data, so the admin listener serves them without the token and
// the page asks its user for the token before it reads anything.
func Shell(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/", "/static/app.js", "/static/app.css":
		return true
	}
	return false
}
