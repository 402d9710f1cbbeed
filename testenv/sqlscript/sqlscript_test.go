package sqlscript

import (
	"reflect"
	"testing"
)

func TestSplit(t *testing.T) {
	tests := []struct {
		name   string
		script string
		want   []Statement
	}{
		{
			name:   "simple",
			script: "SET NAMES utf8;\nCREATE TABLE a (x int);\n",
			want:   []Statement{{"SET NAMES utf8", 1}, {"CREATE TABLE a (x int)", 2}},
		},
		{
			name:   "no trailing delimiter",
			script: "SELECT 1;\n\nSELECT 2",
			want:   []Statement{{"SELECT 1", 1}, {"SELECT 2", 3}},
		},
		{
			name:   "semicolons in quotes",
			script: "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`);",
			want:   []Statement{{"INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`)", 1}},
		},
		{
			name:   "escaped and doubled quotes",
			script: `INSERT INTO t VALUES ('it\'s;', 'it''s;', "a\";");SELECT 2;`,
			want:   []Statement{{`INSERT INTO t VALUES ('it\'s;', 'it''s;', "a\";")`, 1}, {"SELECT 2", 1}},
		},
		{
			name:   "comments with semicolons",
			script: "-- header; not a statement\n# hash; comment\n/* block;\ncomment */ SELECT 1; -- trailing;\nSELECT 2;",
			want:   []Statement{{"SELECT 1", 4}, {"SELECT 2", 5}},
		},
		{
			name:   "double dash without space is an operator",
			script: "SELECT 1--1;",
			want:   []Statement{{"SELECT 1--1", 1}},
		},
		{
			name:   "comment inside statement",
			script: "CREATE TABLE t (\n  a int, -- the a; column\n  b int # b;\n);",
			want:   []Statement{{"CREATE TABLE t (\n  a int, \n  b int \n)", 1}},
		},
		{
			name:   "executable comments kept",
			script: "/*!40101 SET NAMES utf8mb4 */;\n/*M!100100 SET x=1; */;",
			want:   []Statement{{"/*!40101 SET NAMES utf8mb4 */", 1}, {"/*M!100100 SET x=1; */", 2}},
		},
		{
			name:   "only comments",
			script: "-- nothing\n/* here */;\n;;\n",
			want:   nil,
		},
		{
			name:   "delimiter",
			script: "DELIMITER $$\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END$$\ndelimiter ;\nSELECT 1;",
			want: []Statement{
				{"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = 2; END", 2},
				{"SELECT 1", 4},
			},
		},
		{
			name:   "multi-line string counts lines",
			script: "INSERT INTO t VALUES ('a\nb');\nSELECT 1;",
			want:   []Statement{{"INSERT INTO t VALUES ('a\nb')", 1}, {"SELECT 1", 3}},
		},
		{
			name:   "utf8 and crlf",
			script: "INSERT INTO t VALUES ('北京;朝阳区');\r\nSELECT '上海';\r\n",
			want:   []Statement{{"INSERT INTO t VALUES ('北京;朝阳区')", 1}, {"SELECT '上海'", 2}},
		},
		{
			name:   "unterminated quote runs to the end",
			script: "SELECT 'abc;",
			want:   []Statement{{"SELECT 'abc;", 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Split(tt.script)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%q)\n got  %#v\n want %#v", tt.script, got, tt.want)
			}
		})
	}
}
