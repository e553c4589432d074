package all_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// validatorOptions has one option per validator of Logstash's config mixin
// (logstash-core/lib/logstash/config/mixin.rb, validate_value), declared with
// the Go type our plugins use for it.
type validatorOptions struct {
	Str      string             `hcl:"str,optional"`      // :string
	Count    int                `hcl:"count,optional"`    // :number, counted in whole units
	Timeout  float64            `hcl:"timeout,optional"`  // :number
	Flag     bool               `hcl:"flag,optional"`     // :boolean
	List     []string           `hcl:"list,optional"`     // :array, and :string with :list => true
	Hosts    engine.StringList  `hcl:"hosts,optional"`    // :array, the engine's list type
	Map      map[string]string  `hcl:"map,optional"`      // :hash
	Ordered  engine.Hash        `hcl:"ordered,optional"`  // :hash, in written order
	Multi    engine.HashOfLists `hcl:"multi,optional"`    // :hash whose values may be lists
	Password string             `hcl:"password,optional"` // :password
	URI      string             `hcl:"uri,optional"`      // :uri
	URIs     engine.URIList     `hcl:"uris,optional"`     // :uri with :list => true (:uri_list)
	Path     string             `hcl:"path,optional"`     // :path
	Size     engine.Bytes       `hcl:"size,optional"`     // :bytes
	Mode     string             `hcl:"mode,optional"`     // :validate => ["append", "overwrite"]
	Field    string             `hcl:"field,optional"`    // :field_reference
}

func (o *validatorOptions) Validate() error {
	if o.Mode != "" && o.Mode != "append" && o.Mode != "overwrite" {
		return &engine.FieldError{Field: "mode", Err: fmt.Errorf(`want "append" or "overwrite"; got %q`, o.Mode)}
	}
	if o.Path != "" {
		// What a plugin does with a :path: open it, and report the error.
		if _, err := os.Stat(o.Path); err != nil {
			return &engine.FieldError{Field: "path", Err: err}
		}
	}
	if o.Field != "" {
		if _, err := event.ParseRef(o.Field); err != nil {
			return &engine.FieldError{Field: "field", Err: err}
		}
	}
	return nil
}

// decoded holds what the last build of the validators output got.
var decoded struct {
	opts  validatorOptions
	codec engine.Codec
}

type validatorsOutput struct{}

func (validatorsOutput) Connect(context.Context) error               { return nil }
func (validatorsOutput) Close(context.Context) error                 { return nil }
func (validatorsOutput) Write(context.Context, []*event.Event) error { return nil }

func init() {
	engine.RegisterOutput("test_validators", func(o validatorOptions, r engine.Resources) (validatorsOutput, error) {
		decoded.opts, decoded.codec = o, r.Codec
		return validatorsOutput{}, nil
	}, engine.WithDefaultCodec("plain"))
}

// TestLogstashValidators writes each value shape Logstash's validators
// accept or refuse in a .conf file, and checks what the engine decodes from
// it, end to end (the .conf value model, then the option types). Each row
// names the validator; want is the decoded option (printed with %v) or a
// piece of the error. :ipaddr and :sha_256_hex are used by no plugin here.
func TestLogstashValidators(t *testing.T) {
	for _, tc := range []struct {
		validator, conf, option, want string
	}{
		{":string", `str => "a"`, "str", "a"},
		{":string", `str => bare_word`, "str", "bare_word"},
		{":string", `str => 12`, "str", "12"},
		{":string", `str => ["ts"]`, "str", "ts"}, // value.first
		{":string", `str => []`, "str", ""},       // nil: no value
		{":string", `str => ["a", "b"]`, "", `Invalid value for "str": want one string; got a list of 2 values`},
		{":string", `str => { "a" => "b" }`, "", `str`},

		{":number", `count => 5`, "count", "5"},
		{":number", `count => "5"`, "count", "5"},
		{":number", `count => "-3"`, "count", "-3"},
		{":number", `count => [7]`, "count", "7"},
		{":number", `count => 5.0`, "count", "5"},
		{":number", `timeout => 5.5`, "timeout", "5.5"},
		{":number", `timeout => "5.5"`, "timeout", "5.5"},
		{":number", `timeout => "5.0"`, "timeout", "5"},
		{":number", `timeout => 3`, "timeout", "3"},
		{":number", `count => 5.5`, "", `Invalid value for "count": want a whole number; got 5.5`},
		{":number", `count => "05"`, "", `want a whole number; got "05"`}, // not its own to_i.to_s
		{":number", `timeout => "1e3"`, "", `want a number; got "1e3"`},
		{":number", `timeout => "0.50"`, "", `want a number; got "0.50"`},
		{":number", `count => "five"`, "", `want a whole number; got "five"`},
		{":number", `count => [1, 2]`, "", `want one whole number; got a list of 2 values`},

		{":boolean", `flag => true`, "flag", "true"}, // a bareword: the string "true"
		{":boolean", `flag => "true"`, "flag", "true"},
		{":boolean", `flag => "false"`, "flag", "false"},
		{":boolean", `flag => ["true"]`, "flag", "true"},
		{":boolean", `flag => "yes"`, "", `Invalid value for "flag": want true or false; got "yes"`},
		{":boolean", `flag => "True"`, "", `want true or false; got "True"`},
		{":boolean", `flag => 1`, "", `want true or false; got 1`},

		{":array", `list => "a"`, "list", "[a]"},
		{":array", `list => ["a", "b"]`, "list", "[a b]"},
		{":array", `list => [1, "b"]`, "list", "[1 b]"},
		{":array", `list => []`, "list", "[]"},
		{":array", `list => "a" list => "b"`, "list", "[a b]"}, // a repeated setting
		{":array", `hosts => "a"`, "hosts", "[a]"},
		{":array", `hosts => ["a", 2]`, "hosts", "[a 2]"},

		{":hash", `map => { "a" => "1" "b" => 2 }`, "map", "map[a:1 b:2]"},
		{":hash", `map => ["a", "1", "b", "2"]`, "map", "map[a:1 b:2]"},
		{":hash", `map => { "a" => ["1"] }`, "map", "map[a:1]"},
		{":hash", `map => { "a" => ["1", "2"] }`, "", `Invalid value for "map": key "a": want one value; got a list of 2 values`},
		{":hash", `map => ["a", "1", "b"]`, "", `map`},
		{":hash", `ordered => { "z" => "1" "a" => ["2"] }`, "ordered", "[{z 1} {a 2}]"},
		{":hash", `ordered => { "a" => ["1", "2"] }`, "", `Invalid value for "ordered": key "a": want a string; got a list of 2 values`},
		{":hash", `multi => { "a" => "1" "b" => ["2", "3"] }`, "multi", "[{a [1]} {b [2 3]}]"},
		{":hash", `multi => ["a", "1", "a", "2"]`, "multi", "[{a [1 2]}]"},
		{":hash", `multi => { "x" => "a" } multi => { "x" => "b" }`, "multi", "[{x [a b]}]"}, // merged
		{":hash", `multi => "a"`, "", `Invalid value for "multi": want a hash`},

		{":password", `password => "s3cret"`, "password", "s3cret"},
		{":password", `password => ["s3cret"]`, "password", "s3cret"},
		{":password", `password => ["a", "b"]`, "", `want one string; got a list of 2 values`},

		{":uri", `uri => "http://a:9200"`, "uri", "http://a:9200"},
		{":uri", `uri => ["http://a:9200"]`, "uri", "http://a:9200"},
		{":uri_list", `uris => "http://a:9200 http://b:9200"`, "uris", "[http://a:9200 http://b:9200]"},
		{":uri_list", `uris => ["http://a:9200", "http://b:9200  http://c:9200"]`, "uris", "[http://a:9200 http://b:9200 http://c:9200]"},

		{":path", `path => "/"`, "path", "/"},
		{":path", `path => ["/"]`, "path", "/"},
		{":path", `path => "/nonexistent/ca.pem"`, "", `Invalid value for "path": the file "/nonexistent/ca.pem" does not exist`},

		{":bytes", `size => 1024`, "size", "1024"},
		{":bytes", `size => "10 KiB"`, "size", "10240"},
		{":bytes", `size => ["1kb"]`, "size", "1000"},
		{":bytes", `size => "lots"`, "", `Invalid value for "size": "lots" is not a byte size`},

		{"[list]", `mode => "append"`, "mode", "append"},
		{"[list]", `mode => ["overwrite"]`, "mode", "overwrite"},
		{"[list]", `mode => "other"`, "", `Invalid value for "mode": want "append" or "overwrite"`},

		{":field_reference", `field => "[a][b]"`, "field", "[a][b]"},
		{":field_reference", `field => ["[a]"]`, "field", "[a]"},
		{":field_reference", `field => "[a"`, "", `Invalid value for "field"`},

		{":codec", `codec => json`, "codec", "*json.Codec"},
		{":codec", `codec => "json"`, "codec", "*json.Codec"},
		{":codec", `codec => json { charset => "UTF-8" }`, "codec", "*json.Codec"},
		{":codec", `codec => ["json"]`, "codec", "*json.Codec"},
		{":codec", ``, "codec", "*plain.Codec"},
		{":codec", `codec => nope`, "", `Unknown codec type "nope"`},
	} {
		conf := "input { stdin {} }\noutput { test_validators { " + tc.conf + " } }\n"
		decoded.opts, decoded.codec = validatorOptions{}, nil
		diags := checkConf(t, "validators.conf", []byte(conf), true)
		got := ""
		switch {
		case diags.HasErrors():
			for _, d := range diags {
				got += d.Summary + ": " + d.Detail + "\n"
			}
		case tc.option == "codec":
			got = fmt.Sprintf("%T", decoded.codec)
		default:
			got = fmt.Sprintf("%v", optionValue(decoded.opts, tc.option))
		}
		ok := got == tc.want
		if tc.option == "" {
			ok = diags.HasErrors() && strings.Contains(got, tc.want)
		}
		if !ok {
			t.Errorf("%s: %s: got %q; want %q", tc.validator, tc.conf, got, tc.want)
		}
	}
}

// optionValue returns the field of o whose hcl tag names option.
func optionValue(o validatorOptions, option string) any {
	v := reflect.ValueOf(o)
	for i := range v.NumField() {
		if name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("hcl"), ","); name == option {
			return v.Field(i).Interface()
		}
	}
	return "no option " + option
}
