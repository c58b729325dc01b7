package pipeline_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/nsflow/nsflow/pkg/pipeline"
)

func TestNoArgumentsRefusesArguments(t *testing.T) {
	called := false
	run := pipeline.NoArguments(func(context.Context, []string, io.Writer) error { called = true; return nil })
	err := run(t.Context(), []string{"--sink", "x"}, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "environment variables") || called {
		t.Fatalf("with arguments: err %v, run called %v; want an error pointing at the environment and no run", err, called)
	}
	if err := run(t.Context(), nil, nil, io.Discard); err != nil || !called {
		t.Fatalf("without arguments: err %v, run called %v", err, called)
	}
}
