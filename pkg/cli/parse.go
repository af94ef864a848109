package cli

import (
	"bufio"
	"encoding/json"
	"io"

	"github.com/ppwatch/ppwatch/pkg/event"
	"github.com/ppwatch/ppwatch/pkg/pipeline"
)

func runParse(args []string, env Env) error {
	fs := newFlagSet("parse", env)
	var c common
	c.register(fs)
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := c.setup(); err != nil {
		return err
	}
	if len(files) == 0 {
		files = []string{"-"}
	}
	out := bufio.NewWriterSize(env.Stdout, 64<<10)
	enc := newEventEncoder(out)
	var werr error
	for _, name := range files {
		_, err := c.readInput(name, env, func(ev *event.Delivery, res pipeline.Result, _ error) {
			if res == pipeline.Parsed && werr == nil {
				werr = enc.Encode(ev)
			}
		})
		if werr != nil {
			return werr
		}
		if err != nil {
			out.Flush()
			return err
		}
	}
	return out.Flush()
}

// newEventEncoder writes delivery events as ppwatch parse does, one JSON
// object per line.
func newEventEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // replies hold <addresses> and & in URLs: keep them readable
	return enc
}
