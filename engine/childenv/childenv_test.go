package childenv

import (
	"slices"
	"testing"
)

func TestEnvironWithoutHidden(t *testing.T) {
	t.Setenv("PIPELINE_TEST_CHILDENV_A", "a")
	t.Setenv("PIPELINE_TEST_CHILDENV_B", "b")
	Hide("PIPELINE_TEST_CHILDENV_A", "")
	env := Environ()
	if slices.Contains(env, "PIPELINE_TEST_CHILDENV_A=a") || !slices.Contains(env, "PIPELINE_TEST_CHILDENV_B=b") {
		t.Fatalf("environment %q: want B and not A", env)
	}
	if !Hidden("PIPELINE_TEST_CHILDENV_A") || Hidden("PIPELINE_TEST_CHILDENV_B") || Hidden("") {
		t.Fatal("Hidden disagrees with Hide")
	}
}
