package ir

import (
	"os"
	"regexp"
	"strings"
)

// envRef is a ${VAR} or ${VAR:default} reference, which Logstash resolves
// from the environment (or its keystore) in logstash.yml values and, since
// 7.5, in pipelines.yml values.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::([^}]*))?\}`)

// ExpandSettingsEnv resolves ${VAR} and ${VAR:default} in a settings file's
// value; missing names the first variable neither set nor defaulted (its
// reference is left as it was).
func ExpandSettingsEnv(text string) (out, missing string) {
	out = envRef.ReplaceAllStringFunc(text, func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := os.LookupEnv(m[1]); ok {
			return v
		}
		if strings.Contains(ref, ":") {
			return m[2]
		}
		if missing == "" {
			missing = m[1]
		}
		return ref
	})
	return out, missing
}

// EnvRefNames are the names of the variables text refers to as ${VAR}.
func EnvRefNames(text string) []string {
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}
