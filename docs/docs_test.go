package docs

import (
	"regexp"
	"strings"
	"testing"
)

// Every alert of the runbook's table has its section at the id GitHub
// gives the heading, so a runbook_url works on the daemon's page and on a
// copy of docs/runbook.md on GitHub alike.
func TestSections(t *testing.T) {
	for _, name := range []string{"ProofpointBlockRatioHigh", "ProofpointDeferralRatioHigh", "ProofpointDomainBlocked",
		"ProofpointFleetBlockRatioHigh", "ProofpointFleetDeferralRatioHigh", "ProofpointFleetDomainBlocked",
		"PpwatchDown", "PpwatchInputStalled", "PpwatchInputMissing", "PpwatchMalformedLines", "PpwatchStoreFailing",
		"PpwatchConfigReloadFailed", "PpwatchNotificationsFailing", "PpwatchLostFiles", "PpwatchSendingIPListed",
		"PpwatchHygieneCheckFailing"} {
		if got := Section(name); got != strings.ToLower(name) {
			t.Errorf("Section(%s) = %q", name, got)
		}
	}
	if got := Section("MyOwnRule"); got != GeneralSection {
		t.Errorf("Section(MyOwnRule) = %q, want %q", got, GeneralSection)
	}
	if got := render().sections["The first five minutes (all Proofpoint alerts)"]; got != GeneralSection {
		t.Errorf("general section's id %q, want %q", got, GeneralSection)
	}
}

// Every link within the runbook (#…) and the README's link into it land on
// a heading of the served page.
func TestRunbookHTMLAnchors(t *testing.T) {
	page := string(RunbookHTML())
	ids := map[string]bool{}
	for _, m := range regexp.MustCompile(`<h[1-6] id="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		ids[m[1]] = true
	}
	links := regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(string(Runbook), -1)
	if len(links) < 14 {
		t.Fatalf("%d links in the runbook", len(links))
	}
	for _, m := range links {
		if !ids[m[1]] {
			t.Errorf("link #%s: no such heading id", m[1])
		}
	}
	if !ids["a-damaged-state-file"] {
		t.Error("README's link #a-damaged-state-file: no such heading id")
	}
	for _, want := range []string{"<!DOCTYPE html>", `<h1 id="ppwatch-runbook">ppwatch runbook</h1>`,
		`<h2 id="proofpointblockratiohigh">ProofpointBlockRatioHigh</h2>`, "<table>", "</body></html>\n"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
