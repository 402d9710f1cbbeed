// Package sqlscript splits a MySQL script (a shop's install schema, the demo schema) into single
// statements and runs them, the way the mysql command-line client does.
//
// It exists because the go-mysql database/sql driver sends one statement per call (it does not
// enable CLIENT_MULTI_STATEMENTS), so a schema file has to be split on the client side. It imports
// nothing from the module and does not import "testing", so non-test code (the demo) can use it.
package sqlscript

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Statement is one statement of a script.
type Statement struct {
	// SQL is the statement text without its delimiter and without plain comments. Executable
	// comments (/*! ... */, /*M! ... */) are kept: the server runs them.
	SQL string
	// Line is the 1-based line of the script on which the statement starts.
	Line int
}

// Execer is what Exec runs statements on: *sql.DB, *sql.Conn and *sql.Tx all satisfy it. Session
// state set by the script (SET NAMES, SET sql_mode) only sticks on a *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Split cuts script into statements. A statement ends at the delimiter (";" unless changed by a
// DELIMITER line, as in trigger and procedure definitions) outside quotes ('…', "…", `…`, with
// backslash escapes and doubled quotes) and outside comments (-- to end of line, # to end of
// line, /* … */). Statements that are empty once comments are removed are dropped.
func Split(script string) []Statement {
	var (
		out       []Statement
		cur       strings.Builder
		delim     = ";"
		line      = 1 // line of script[i]
		startLine = 0 // line where cur's first non-space byte is; 0 while cur is blank
		lineStart = true
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, Statement{SQL: s, Line: startLine})
		}
		cur.Reset()
		startLine = 0
	}
	mark := func() {
		if startLine == 0 {
			startLine = line
		}
	}
	n := len(script)
	for i := 0; i < n; {
		c := script[i]

		// DELIMITER is a client command: only recognised at the start of a line between statements.
		if lineStart && startLine == 0 {
			j := i
			for j < n && (script[j] == ' ' || script[j] == '\t') {
				j++
			}
			if hasPrefixFold(script[j:], "delimiter") && j+9 < n && (script[j+9] == ' ' || script[j+9] == '\t') {
				end := strings.IndexByte(script[j:], '\n')
				if end < 0 {
					end = n - j
				}
				if f := strings.Fields(script[j+9 : j+end]); len(f) > 0 {
					delim = f[0]
				}
				i = j + end
				continue
			}
		}
		lineStart = false

		switch {
		case c == '\n':
			cur.WriteByte(c)
			line++
			lineStart = true
			i++
		case c == '\'' || c == '"' || c == '`':
			mark()
			j := i + 1
			for j < n {
				if script[j] == '\\' && c != '`' && j+1 < n {
					j += 2
					continue
				}
				if script[j] == c {
					break
				}
				j++
			}
			if j < n {
				j++ // closing quote
			}
			line += strings.Count(script[i:j], "\n")
			cur.WriteString(script[i:j])
			i = j
		case c == '#' || (c == '-' && i+1 < n && script[i+1] == '-' && (i+2 == n || isSpaceOrCtl(script[i+2]))):
			end := strings.IndexByte(script[i:], '\n')
			if end < 0 {
				end = n - i
			}
			i += end // keep the newline: it is handled (and counted) above
		case c == '/' && i+1 < n && script[i+1] == '*':
			end := strings.Index(script[i+2:], "*/")
			j := n
			if end >= 0 {
				j = i + 2 + end + 2
			}
			body := script[i:j]
			if strings.HasPrefix(body, "/*!") || strings.HasPrefix(body, "/*M!") {
				mark()
				cur.WriteString(body)
			} else {
				cur.WriteByte(' ')
			}
			line += strings.Count(body, "\n")
			i = j
		case strings.HasPrefix(script[i:], delim):
			flush()
			i += len(delim)
		default:
			if c != ' ' && c != '\t' && c != '\r' {
				mark()
			}
			cur.WriteByte(c)
			i++
		}
	}
	flush()
	return out
}

// Exec runs every statement of script on e, in order, and stops at the first error, which names
// the statement's line and beginning.
func Exec(ctx context.Context, e Execer, script string) error {
	for _, st := range Split(script) {
		if _, err := e.ExecContext(ctx, st.SQL); err != nil {
			return fmt.Errorf("statement at line %d (%s): %w", st.Line, abbrev(st.SQL), err)
		}
	}
	return nil
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 60 {
		return string(r[:60]) + "…"
	}
	return s
}

func isSpaceOrCtl(b byte) bool { return b <= ' ' }

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
