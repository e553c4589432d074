// Package logstash reads Logstash's own configuration language, the .conf
// pipeline files and their conditions, into the IR (package dsl/ir) that the
// engine builds pipelines from. It is the start-here page of that front-end.
//
// Three entry points:
//
//   - ParseConf parses a whole .conf file (input, filter and output sections,
//     plugins, if/else if/else) following Logstash's treetop grammar. Plugin
//     settings become an hclsyntax.Body, so the engine decodes .conf and HCL
//     options with the same code and reports errors at the same file:line:col.
//   - ParseCondition (ParseConditionWith for Logstash's raw-string mode) parses
//     the text of one condition, `[a] == "b" and ![c]`, into an ir.Expr; the
//     HCL front-end uses it for the labels of its `if` blocks too.
//   - ir.FormatCondition prints an ir.Expr back in Logstash syntax, for
//     `pipeline convert` (.conf to HCL).
//
// Files: conf.go (parser), conf_scan.go (lexer and positions), conf_values.go
// (values: strings, numbers, arrays, hashes, ${VAR}), condition.go and
// cond_lexer.go (conditions), format.go (printing).
//
// Semantics follow Logstash, not a tidier reading of it: a syntax error stops
// the parse at the offending token, as Logstash does; string escapes are kept
// literally unless config.support_escapes is on (ConfOptions.SupportEscapes);
// and/or chains group as Logstash's shunting-yard pass groups them. The
// package never imports the engine (the dependency rule: dsl/* only produce
// IR); choosing a front-end by file extension and merging several files is
// package dsl's job.
package logstash
