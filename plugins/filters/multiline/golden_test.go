package multiline

import (
	"testing"

	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) { plugintest.RunFilterGolden(t, "multiline") }
