module github.com/pipelined/pipeline

go 1.26.0

require (
	github.com/agext/levenshtein v1.2.1
	github.com/elastic/go-lumber v0.2.0
	github.com/hashicorp/hcl/v2 v2.25.0
	github.com/klauspost/compress v1.15.9
	github.com/redis/go-redis/v9 v9.23.0
	github.com/rogpeppe/go-internal v1.14.1
	github.com/vjeantet/grok v1.0.1
	github.com/zclconf/go-cty v1.19.0
	golang.org/x/tools v0.38.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/apparentlymart/go-textseg/v15 v15.0.0 // indirect
	github.com/apparentlymart/go-textseg/v17 v17.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/google/go-cmp v0.6.0 // indirect
	github.com/mitchellh/go-wordwrap v1.0.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/mod v0.29.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.31.0 // indirect
)
