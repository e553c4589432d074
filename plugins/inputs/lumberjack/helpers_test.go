package lumberjack

import (
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func mustRef(s string) event.Ref { return event.MustRef(s) }

func decode(o *Options, src string) error { return plugintest.DecodeOptions(o, []byte(src)) }
