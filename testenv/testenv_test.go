package testenv

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/driver"
)

func TestDatabaseName(t *testing.T) {
	tests := []struct {
		name, test string
		want       string
	}{
		{"plain", "TestSeed", "t_testseed_0000002a"},
		{"subtests and symbols", "TestSeed/ecshop schema (MyISAM)", "t_testseed_ecshop_schema_myisam_0000002a"},
		{"non-ascii", "Test北京/朝阳", "t_test_0000002a"},
		{"long", "Test" + strings.Repeat("x", 100), "t_test" + strings.Repeat("x", 49) + "_0000002a"},
		{"long ending at underscore", strings.Repeat("a", 53) + "/b", "t_" + strings.Repeat("a", 53) + "_0000002a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := databaseName(tt.test, 42)
			if got != tt.want {
				t.Errorf("databaseName(%q) = %q, want %q", tt.test, got, tt.want)
			}
			if len(got) > 64 {
				t.Errorf("databaseName(%q) has %d characters, more than 64", tt.test, len(got))
			}
		})
	}
}

func TestRedisPrefix(t *testing.T) {
	got := redisPrefix("TestX/sub [*]? a\\b", 0xabc)
	want := "shipsynctest:TestX/sub______a_b:00000abc:"
	if got != want {
		t.Errorf("redisPrefix = %q, want %q", got, want)
	}
}

func TestDSNParsesBack(t *testing.T) {
	for _, pw := range []string{"shipsync", "p@ss/w:rd?#%&", "密码"} {
		t.Setenv("SHIPSYNC_TEST_MYSQL_PASSWORD", pw)
		t.Setenv("SHIPSYNC_TEST_MYSQL_ADDR", "127.0.0.1:3307")
		for _, db := range []string{"", "t_shop_1"} {
			c, err := driver.ParseDSN(DSN(db))
			if err != nil {
				t.Fatalf("ParseDSN(%q): %v", DSN(db), err)
			}
			if c.User != "shipsync" || c.Password != pw || c.Addr != "127.0.0.1:3307" || c.DB != db {
				t.Errorf("ParseDSN(%q) = user %q password %q addr %q db %q, want shipsync %q 127.0.0.1:3307 %q",
					DSN(db), c.User, c.Password, c.Addr, c.DB, pw, db)
			}
			if got := c.Params.Get("collation"); got != "utf8mb4_general_ci" {
				t.Errorf("ParseDSN(%q) collation = %q", DSN(db), got)
			}
		}
	}
}

// recordingTB stands in for a test so that Eventually's failure can be observed.
type recordingTB struct {
	testing.TB
	ctx   context.Context
	fatal string
}

func (r *recordingTB) Helper()                  {}
func (r *recordingTB) Context() context.Context { return r.ctx }
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestEventually(t *testing.T) {
	t.Run("met", func(t *testing.T) {
		calls := 0
		Eventually(t, time.Second, time.Millisecond, func() (bool, string) {
			calls++
			return calls == 3, "not yet"
		})
		if calls != 3 {
			t.Errorf("cond called %d times, want 3", calls)
		}
	})
	t.Run("times out with the last message", func(t *testing.T) {
		r := &recordingTB{TB: t, ctx: context.Background()}
		done := make(chan struct{})
		calls := 0
		go func() {
			defer close(done)
			Eventually(r, 50*time.Millisecond, 5*time.Millisecond, func() (bool, string) {
				calls++
				return false, fmt.Sprintf("saw %d", calls)
			})
		}()
		<-done
		if want := fmt.Sprintf("saw %d", calls); !strings.Contains(r.fatal, want) || calls < 2 {
			t.Errorf("failure = %q after %d calls, want it to contain %q", r.fatal, calls, want)
		}
	})
}
