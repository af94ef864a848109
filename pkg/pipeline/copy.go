package pipeline

import (
	"strings"
	"unsafe"

	"github.com/ppwatch/ppwatch/pkg/event"
)

// ownCopy makes ev independent of line, which aliases a reused read buffer.
// Parsers return substrings of the line (or strings they own), so one copy
// of the line serves every field: one allocation per event instead of one
// per field.
func ownCopy(ev *event.Delivery, line string) {
	if line == "" {
		return
	}
	c := strings.Clone(line)
	base := uintptr(unsafe.Pointer(unsafe.StringData(line)))
	end := base + uintptr(len(line))
	rebase := func(s *string) {
		if len(*s) == 0 {
			return
		}
		p := uintptr(unsafe.Pointer(unsafe.StringData(*s)))
		if p >= base && p+uintptr(len(*s)) <= end {
			off := p - base
			*s = c[off : off+uintptr(len(*s))]
		}
	}
	for _, f := range []*string{&ev.MTA, &ev.Host, &ev.Instance, &ev.QueueID, &ev.Sender, &ev.MessageID, &ev.Recipient, &ev.OrigRecipient,
		&ev.RecipientDomain, &ev.RelayHost, &ev.RelayIP, &ev.SourceIP, &ev.EnhancedCode, &ev.Response, &ev.Rule} {
		rebase(f)
	}
}
