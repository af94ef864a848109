// Package docs carries the runbook into the binary: the daemon serves the
// runbook of its own version at /runbook, as HTML so that each alert's
// runbook_url lands on its section, and the alerts link to the sections it
// has.
package docs

import (
	"bytes"
	_ "embed"
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
)

// Runbook is docs/runbook.md.
//
//go:embed runbook.md
var Runbook []byte

// GeneralSection is the runbook's steps for every Proofpoint alert: the
// section an alert without one of its own links to.
const GeneralSection = "the-first-five-minutes-all-proofpoint-alerts"

type rendered struct {
	html     []byte
	sections map[string]string // heading text → id
}

// render parses the runbook once: the page and its heading ids come from
// the same parse, so a link made from Section always lands.
var render = sync.OnceValue(func() rendered {
	md := goldmark.New(goldmark.WithExtensions(extension.GFM), goldmark.WithParserOptions(parser.WithAutoHeadingID()))
	doc := md.Parser().Parse(text.NewReader(Runbook))
	r := rendered{sections: map[string]string{}}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		h, ok := n.(*ast.Heading)
		if !entering || !ok {
			return ast.WalkContinue, nil
		}
		var title strings.Builder
		for c := h.FirstChild(); c != nil; c = c.NextSibling() {
			if t, ok := c.(*ast.Text); ok {
				title.Write(t.Segment.Value(Runbook))
			}
		}
		if id, ok := h.AttributeString("id"); ok {
			if b, ok := id.([]byte); ok {
				r.sections[title.String()] = string(b)
			}
		}
		return ast.WalkSkipChildren, nil
	})
	var b bytes.Buffer
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ppwatch runbook</title>
<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:0 1em;line-height:1.4}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
code,pre{background:#f4f4f4}pre{padding:.5em;overflow-x:auto}</style></head><body>
`)
	// The runbook is ours and holds no raw HTML (goldmark leaves it out
	// anyway): rendering cannot fail short of a bug.
	if err := md.Renderer().Render(&b, Runbook, doc); err != nil {
		panic("docs: runbook.md: " + err.Error())
	}
	b.WriteString("</body></html>\n")
	r.html = b.Bytes()
	return r
})

// RunbookHTML is the runbook as a web page, its headings with ids as
// GitHub gives them (#proofpointblockratiohigh).
func RunbookHTML() []byte { return render().html }

// Section is the id of alertname's section in the runbook, or
// GeneralSection when it has none.
func Section(alertname string) string {
	if id, ok := render().sections[alertname]; ok {
		return id
	}
	return GeneralSection
}
