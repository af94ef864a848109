# ppwatch — see README.md. Targets are .PHONY and small on purpose.
GO        ?= go
BIN       := bin/ppwatch
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
# Prometheus's build information (ppwatch_build_info, ppwatch version).
PV        := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(PV).Version=$(VERSION) -X $(PV).Revision=$(REVISION) -X $(PV).Branch=$(BRANCH) \
	-X $(PV).BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null) -X $(PV).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
FUZZTIME  ?= 10s
DEB_ARCH    ?= $(shell $(GO) env GOARCH)
SAMPLES   := testdata/postfix/sample.log testdata/exim/sample.log testdata/pmta/sample.log

.PHONY: all build test test-short lint golden sample fuzz bench pgo run check-unit check-rules check-browser e2e deb check-deb clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ppwatch

# The test command README gives and CI runs: Go tests, then the shipped
# Prometheus rules and Alertmanager config with promtool and amtool.
test: lint
	$(GO) test -race -count=1 ./...
	$(MAKE) check-rules

test-short:
	$(GO) test -short ./...

lint:
	@out=$$(gofmt -l cmd pkg parsers docs); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./cmd/... ./pkg/... ./parsers/... ./docs/...
	$(GO) tool staticcheck ./cmd/... ./pkg/... ./parsers/... ./docs/...
	@# The system test builds and is checked everywhere; it runs only in make e2e.
	$(GO) vet -tags e2e ./pkg/e2e
	$(GO) tool staticcheck -tags e2e ./pkg/e2e

# Rewrite the golden files after a deliberate change; review the diff.
golden:
	$(GO) test ./pkg/pipeline -run Golden -update

# Rewrite the generated Postfix sample (the Exim and PowerMTA samples are
# written by hand), then make golden; review both diffs.
sample:
	$(GO) run ./cmd/ppbench -gen testdata/postfix/sample.log -lines 240 -seed 42

# Every parser package of the MTA table has its FuzzParse in fuzz_test.go.
PARSER_FUZZ := $(patsubst %/fuzz_test.go,./%:FuzzParse,$(wildcard parsers/*/fuzz_test.go))

# Short runs of every fuzz target (go test -fuzz takes one target at a time).
# FUZZTIME is a duration (10s) or a count of inputs (100000x).
fuzz:
	@set -e; for t in $(PARSER_FUZZ) ./parsers/mtalog:FuzzParseIP ./pkg/config:FuzzLoad ./pkg/dnscheck:FuzzParseDKIMKey ./pkg/dnscheck:FuzzGenericName; do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $$pkg; \
	done

# Scan throughput and peak RSS beside grep on a generated 1,000,000-line
# Postfix log, the daemon on it and on a flood of 1,000,000 distinct
# recipient domains, then the per-package benchmarks.
bench: build
	$(GO) run ./cmd/ppbench -ppwatch $(BIN) -domains 1000000
	$(GO) test -run '^$$' -bench . -benchmem ./parsers/... ./pkg/...

# Rewrite the CPU profile go build optimises ppwatch with (profile-guided
# optimisation: hot calls inlined, the parser's interface call
# devirtualised): scan over the generated Postfix, Exim and PowerMTA logs.
# Rerun after changing the parsers, the classifier or the report, and commit
# the profile.
pgo:
	GOMAXPROCS=1 $(GO) run ./cmd/ppbench -pgo cmd/ppwatch/default.pgo

# The main job on a built-in default: the scan report over the shipped
# samples, then the daemon on copies of them (timestamps moved on to end
# now, appended to while it runs), metrics on 127.0.0.1:9797, both with
# testdata/demo.yml. RUN_FOR=30s stops it by itself.
RUN_FOR ?= 0
run: build
	./$(BIN) scan --config testdata/demo.yml $(SAMPLES)
	@echo
	$(GO) run ./cmd/ppdemo -ppwatch $(BIN) -config testdata/demo.yml -for $(RUN_FOR)

# systemd-analyze verify on the unit, pointed at the built binary; it exits
# 0 on warnings, so any output fails.
check-unit: build
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 0; }; \
	d=$$(mktemp -d) && sed "s#/usr/local/bin/ppwatch#$(CURDIR)/$(BIN)#g" systemd/ppwatch.service > $$d/ppwatch.service && \
	out=$$(systemd-analyze verify $$d/ppwatch.service 2>&1); rc=$$?; rm -rf $$d; \
	if [ $$rc -ne 0 ] || [ -n "$$out" ]; then echo "$$out"; exit 1; fi; echo "systemd/ppwatch.service: verify ok (no warnings)"

# The shipped Prometheus rules and their unit tests, the Prometheus and
# Alertmanager examples, the Alertmanager routes, a page through a real
# Alertmanager and the rules on a real Prometheus scraping the daemon (part
# of make test). A missing tool fails, it never skips. promtool, amtool,
# Prometheus and Alertmanager come from PATH, else from Debian's
# prometheus and prometheus-alertmanager packages unpacked into bin/tools
# (nothing is installed or started on the machine; apt-get update runs
# first when the package lists are empty and we are root, as on a fresh CI
# machine).
TOOLS    := bin/tools/usr/bin
PROMTOOL ?= $(shell command -v promtool || echo $(CURDIR)/$(TOOLS)/promtool)
AMTOOL   ?= $(shell command -v amtool || echo $(CURDIR)/$(TOOLS)/amtool)
ALERTMANAGER ?= $(shell command -v prometheus-alertmanager || echo $(CURDIR)/$(TOOLS)/prometheus-alertmanager)
PROMETHEUS   ?= $(shell command -v prometheus || echo $(CURDIR)/$(TOOLS)/prometheus)
AMCONFIG := configs/alertmanager/alertmanager.yml

$(CURDIR)/$(TOOLS)/promtool $(CURDIR)/$(TOOLS)/amtool $(CURDIR)/$(TOOLS)/prometheus-alertmanager $(CURDIR)/$(TOOLS)/prometheus:
	@command -v apt-get >/dev/null || { echo "$@ missing: install promtool and amtool (Prometheus 2.42+, Alertmanager 0.25+) and put them on PATH"; exit 1; }
	@set -e; d=$$(mktemp -d); trap 'rm -rf $$d' EXIT; cd $$d; \
	if ! apt-get download prometheus prometheus-alertmanager >/dev/null 2>&1; then \
		[ "$$(id -u)" = 0 ] || { echo "apt-get download prometheus prometheus-alertmanager failed: run apt-get update as root, or put promtool and amtool on PATH"; exit 1; }; \
		apt-get update -qq; apt-get download prometheus prometheus-alertmanager >/dev/null 2>&1; \
	fi; \
	mkdir -p $(CURDIR)/bin/tools; for f in *.deb; do dpkg-deb -x $$f $(CURDIR)/bin/tools; done
	@touch $(TOOLS)/promtool $(TOOLS)/amtool $(TOOLS)/prometheus-alertmanager $(TOOLS)/prometheus

# Debian's Alertmanager build reads its default notification template from
# this fixed path, not from the binary. With the package unpacked into
# bin/tools rather than installed, the template is put there (root only; a
# fresh CI machine runs as root).
AMTEMPLATE := /usr/share/prometheus/alertmanager/default.tmpl
$(AMTEMPLATE): $(ALERTMANAGER)
	@[ -f $(CURDIR)/bin/tools/usr/share/prometheus/alertmanager/default.tmpl ] || { echo "$@ missing: install Debian's prometheus-alertmanager"; exit 1; }
	@[ "$$(id -u)" = 0 ] || { echo "$@ missing: Debian's Alertmanager reads its default template there; install prometheus-alertmanager, or run make test as root once"; exit 1; }
	mkdir -p $(dir $@) && cp -r $(CURDIR)/bin/tools/usr/share/prometheus/alertmanager/. $(dir $@)

check-rules: $(PROMTOOL) $(AMTOOL) $(ALERTMANAGER) $(PROMETHEUS) $(AMTEMPLATE)
	$(PROMTOOL) check rules configs/prometheus/ppwatch.rules.yml
	$(PROMTOOL) test rules configs/prometheus/ppwatch.rules.test.yml
	$(PROMTOOL) check config configs/prometheus/scrape.yml
	$(GO) test -count=1 -v -run '^TestDashboardQueriesParse$$' ./pkg/app -args -promtool=$(PROMTOOL)
	$(GO) test -count=1 -v -run '^(TestPageThroughRealAlertmanager|TestShippedRulesOnRealPrometheus)$$' ./cmd/ppwatch \
		-args -alertmanager=$(ALERTMANAGER) -prometheus=$(PROMETHEUS)
	$(AMTOOL) check-config $(AMCONFIG)
	$(AMTOOL) config routes test --config.file=$(AMCONFIG) --verify.receivers=pager severity=page alertname=ProofpointBlockRatioHigh source_ip=192.0.2.20
	$(AMTOOL) config routes test --config.file=$(AMCONFIG) --verify.receivers=mail-team severity=warning alertname=ProofpointDeferralRatioHigh source_ip=192.0.2.20
	$(AMTOOL) config routes test --config.file=$(AMCONFIG) --verify.receivers=mail-team severity=warning alertname=PpwatchDown

# The status page and an IP page in headless Chromium (DOM text and a
# screenshot). Debian's chromium is installed when missing (root, apt-get
# update first when the package lists are empty); without it this fails,
# it never skips.
CHROMIUM ?= $(shell command -v chromium || echo /usr/bin/chromium)
$(CHROMIUM):
	@command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] || { echo "$@ missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM="; exit 1; }
	@[ -n "$$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v -e lock -e partial)" ] || apt-get update -qq
	apt-get install -y -qq chromium >/dev/null || { echo "apt-get install chromium failed"; exit 1; }

check-browser: $(CHROMIUM)
	$(GO) test -count=1 -v -run '^TestStatusPagesInChromium$$' ./pkg/app -args -chromium=$(CHROMIUM)

# The system test, as root: real Postfix and Exim deliver to fake
# Proofpoint receivers on loopback, the daemon from this tree's package
# follows their logs, real Prometheus and Alertmanager scrape and page,
# Chromium opens the status page (pkg/e2e). .ci/e2e-setup installs what it
# needs from Debian's packages; the package is purged afterwards.
EXIM := /opt/ppwatch-e2e/exim/usr/sbin/exim4
e2e: deb $(ALERTMANAGER) $(PROMETHEUS) $(AMTEMPLATE) $(CHROMIUM)
	.ci/e2e-setup build/ppwatch_*_$(DEB_ARCH).deb
	@rc=0; $(GO) test -tags e2e -count=1 -v -timeout 15m ./pkg/e2e -args -exim=$(EXIM) \
		-prometheus=$(PROMETHEUS) -alertmanager=$(ALERTMANAGER) -chromium=$(CHROMIUM) || rc=$$?; \
	dpkg --purge ppwatch >/dev/null 2>&1; exit $$rc

clean:
	rm -rf bin build

# The Debian package, build/ppwatch_<version>_<arch>.deb (nfpm, pinned in
# go.mod): the unit runs /usr/bin/ppwatch, the man page is the CLI's own
# help (ppwatch man), so neither can drift from the source.
deb: build
	mkdir -p build/deb
	sed 's#/usr/local/bin/ppwatch#/usr/bin/ppwatch#g' systemd/ppwatch.service > build/deb/ppwatch.service
	$(BIN) man | gzip -9n > build/deb/ppwatch.1.gz
	rm -f build/ppwatch_*.deb
	@# A Debian version starts with a digit: untagged builds are 0.0.0~git<date>.<hash>.
	v='$(VERSION)'; case "$$v" in [0-9]*.*|v[0-9]*.*) ;; *) v="0.0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || date +%Y%m%d).$$v";; esac; \
	DEB_VERSION=$$(echo "$${v#v}" | tr - .) DEB_ARCH='$(DEB_ARCH)' $(GO) tool nfpm package --config configs/deb/nfpm.yaml --packager deb --target build/

# Install the package on this machine (root), check it, purge it and
# check that nothing is left: what CI does.
check-deb: deb
	.ci/check-deb build/ppwatch_*_$(DEB_ARCH).deb
