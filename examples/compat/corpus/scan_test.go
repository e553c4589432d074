package corpus

import (
	"fmt"
	"strings"
	"testing"
)

func TestScanSections(t *testing.T) {
	for _, c := range []struct {
		src                 string
		pipeline, complete  bool
		sections, completed string
	}{
		{"input { stdin {} }\noutput { stdout {} }\n", true, true, "input output", ""},
		{"filter { mutate { add_tag => \"x\" } }", true, false, "filter",
			"\ninput { stdin {} }\noutput { stdout {} }\n"},
		{"# input { stdin {} }\n\"output\" { stdout {} }\n", true, false, "output", "input { stdin {} }\n"},
		{"input { beats { port => 5044 } }\n", true, false, "input", "output { stdout {} }\n"},
		{"server {\n  listen 80;\n}\n", false, false, "server", ""},
		{"key: value\n", false, false, "", ""},
		// a "}" in a string, a comment or a regexp does not close anything
		{`filter { if [m] =~ /\}{2}/ { mutate { add_tag => "}" } } # }
} output { stdout {} }`, true, false, "filter output", "\ninput { stdin {} }\n"},
	} {
		in := Scan([]byte(c.src))
		var secs []string
		for _, b := range in.Blocks {
			if b.Kind == "section" {
				secs = append(secs, b.Name)
			}
		}
		if got := strings.Join(secs, " "); got != c.sections || in.IsPipeline() != c.pipeline || in.Complete() != c.complete {
			t.Errorf("%q: sections %q pipeline %t complete %t; want %q %t %t", c.src, got, in.IsPipeline(), in.Complete(),
				c.sections, c.pipeline, c.complete)
		}
		if got := strings.TrimPrefix(string(in.Completed()), c.src); c.pipeline && got != c.completed {
			t.Errorf("%q: completion %q, want %q", c.src, got, c.completed)
		}
	}
}

func TestScanPluginAt(t *testing.T) {
	src := `input {
  tcp { port => 5000 codec => json { charset => "UTF-8" } }
}
filter {
  if [type] == "syslog" and [x] !~ /a{1,2}/ {
    grok { match => { "message" => "%{X}" } }
  } else if [a] {
    mutate { add_field => { "k" => "v" } }
  } else {
    "date" { match => ["ts", "ISO8601"] }
  }
}
`
	in := Scan([]byte(src))
	for _, c := range []struct {
		line, col     int
		plugin, param string
	}{
		{2, 9, "input tcp", ""},
		{2, 17, "input tcp", "port"},
		{2, 31, "codec json", "codec"},
		{2, 50, "codec json", "charset"},
		{5, 10, "", ""},
		{6, 40, "filter grok", "match"},
		{8, 36, "filter mutate", "add_field"},
		{10, 25, "filter date", "match"},
		{11, 1, "", ""},
	} {
		off := in.Offset(c.line, c.col)
		b, ok := in.PluginAt(off)
		got := ""
		if ok {
			got = b.Section + " " + b.Name
			if b.Kind == "codec" {
				got = "codec " + b.Name
			}
		}
		param, _ := in.SettingAt(off)
		if got != c.plugin || param != c.param {
			t.Errorf("%d:%d: plugin %q setting %q, want %q %q", c.line, c.col, got, param, c.plugin, c.param)
		}
	}
}

func TestScanVars(t *testing.T) {
	in := Scan([]byte(`input { tcp { port => "${PORT}" host => "${HOST:0.0.0.0}" } }
# "${COMMENTED}"
output { elasticsearch { hosts => ["${ES_HOSTS}", "${PORT}"] user => ${BARE} } }`))
	if got := fmt.Sprint(in.Vars); got != "[{PORT false} {HOST true} {ES_HOSTS false} {BARE false}]" {
		t.Errorf("vars %s", got)
	}
}

func TestDummyValue(t *testing.T) {
	for name, want := range map[string]string{
		"BEATS_PORT":                 "5044",
		"ELASTICSEARCH_HOSTS":        "http://127.0.0.1:9200",
		"ES_URL":                     "http://127.0.0.1:9200",
		"REDIS_HOST":                 "127.0.0.1",
		"SSL_ENABLED":                "false",
		"BATCH_SIZE":                 "1",
		"ELASTIC_USER":               "logstash",
		"LOGSTASH_INTERNAL_PASSWORD": "changeme",
		"INDEX_PREFIX":               "dummy",
	} {
		if got := DummyValue(name); got != want {
			t.Errorf("DummyValue(%s) = %q, want %q", name, got, want)
		}
	}
}

func TestRepoOf(t *testing.T) {
	for rel, want := range map[string]string{
		"owner__name/a__b.conf": "owner/name",
		"owner__na__me/x.conf":  "owner/na__me",
		"plain/sub/x.conf":      "plain",
		"x.conf":                ".",
	} {
		if got := RepoOf(rel); got != want {
			t.Errorf("RepoOf(%s) = %q, want %q", rel, got, want)
		}
	}
}
