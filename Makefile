# Targets a newcomer can guess. `make demo` and `make test` are the README's
# first two commands.
GO       ?= go
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X webservicemonitor/internal/buildinfo.version=$(VERSION) -X webservicemonitor/internal/buildinfo.commit=$(COMMIT)
# Fuzz targets run by count, not by time: on Go 1.26 a -fuzztime=10s run
# intermittently ends in "context deadline exceeded" with no crasher.
FUZZTIME ?= 2000x
# cgo on: tool accounts are resolved through glibc's NSS (LDAP in production).
export CGO_ENABLED = 1
# Every build, test, package and e2e suite uses the approved go1.27.3, which
# the machine's own go (1.26.8) fetches from the module proxy on first use:
# a go1.26.8 binary has ten reachable standard-library vulnerabilities
# (`make vulncheck`). `=`, not `?=`: these machines export GOTOOLCHAIN=local,
# which would otherwise win. `make GOTOOLCHAIN=local ...` still overrides it.
export GOTOOLCHAIN = go1.27.3

.PHONY: build demo test unit fuzz lint bench clean e2e deb

# End-to-end suites against real components (Prometheus, Alertmanager, a
# Son of Grid Engine cell, dpkg); each lives in e2e/<suite>/ with its make
# fragment <suite>.mk, adds its target to E2E, and installs what it needs
# (as root, via apt-get).
E2E :=
-include e2e/*/*.mk

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/webservicemonitor ./cmd/webservicemonitor
	$(GO) build -o bin/demogrid ./cmd/demogrid

demo: build
	./bin/demogrid run

test: lint unit fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Each parser's fuzz target runs briefly on every test run; `make fuzz
# FUZZTIME=200000x` (or a duration, e.g. 10m) digs deeper.
fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=$(FUZZTIME) ./sources/qstat/
	$(GO) test -run='^$$' -fuzz='^FuzzParseManifest$$' -fuzztime=$(FUZZTIME) ./sources/manifest/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeList$$' -fuzztime=$(FUZZTIME) ./sources/proxy/
	$(GO) test -run='^$$' -fuzz='^FuzzParseMatchesReference$$' -fuzztime=$(FUZZTIME) ./sources/qstat/
	$(GO) test -run='^$$' -fuzz='^FuzzParseErrorReason$$' -fuzztime=$(FUZZTIME) ./sources/qstat/
	$(GO) test -run='^$$' -fuzz='^FuzzSimpleMatchesYAML$$' -fuzztime=$(FUZZTIME) ./sources/manifest/
	$(GO) test -run='^$$' -fuzz='^FuzzRecordEncoding$$' -fuzztime=$(FUZZTIME) ./state/
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeListMatchesEncodingJSON$$' -fuzztime=$(FUZZTIME) ./sources/proxy/
	$(GO) test -run='^$$' -fuzz='^FuzzText$$' -fuzztime=$(FUZZTIME) ./internal/sanitize/

# Every suite in E2E runs, in turn, whether one before it failed; at the end
# a line per suite (passed or FAILED, its time), and the target fails if
# any suite did. `make e2e E2E=e2e-grid` runs only the ones named.
e2e: build
	@failed=""; summary=""; \
	for suite in $(E2E); do \
	  began=$$(date +%s); \
	  if $(MAKE) --no-print-directory $$suite; then result=passed; else result=FAILED; failed="$$failed $$suite"; fi; \
	  took=$$(($$(date +%s) - began)); \
	  summary="$$summary$$(printf '%-22s %-7s %3dm%02ds' $$suite $$result $$((took / 60)) $$((took % 60)))\n"; \
	done; \
	printf '\n=== e2e summary ===\n%b' "$$summary"; \
	if [ -n "$$failed" ]; then echo "e2e: failed:$$failed"; exit 1; fi; \
	echo "e2e: every suite passed"

# Every stage at 1k, 10k and 100k tools (2N unrelated jobs), each in its own
# process; prints time, allocations, peak memory and the 100k/10k ratio.
# The synthetic platforms are generated once under $$WSM_SYNTH_DIR (default
# the temp dir).
bench:
	$(GO) run ./internal/benchtable

# `make deb` builds the package's own binary, bin/package/webservicemonitor,
# with the version from git describe in -ldflags (as `build`) and Debian's
# hardening (PIE, RELRO and BIND_NOW, the cgo parts fortified and
# stack-protected, stripped; the build ID kept, -trimpath so the binary does
# not depend on where the tree is checked out), and packs it with
# deploy/mkdeb, which uses nfpm as a library pinned in deploy/mkdeb/go.mod.
# mkdeb generates the man page from that binary's --help and the changelog
# from the git history. SOURCE_DATE_EPOCH (the commit time) makes the
# archive's timestamps, the man page's date and the changelog reproducible.
DEB_DIR     := bin
DEB_BIN     := bin/package/webservicemonitor
MAINTAINER  ?= Webservicemonitor maintainers <webservicemonitor@tools.example>
DEB_GOFLAGS := -buildmode=pie -trimpath
DEB_LDFLAGS := $(LDFLAGS) -s -w -linkmode=external -extldflags '-Wl,-z,relro -Wl,-z,now'
DEB_CGO_ENV := CGO_CFLAGS='-g -O2 -fstack-protector-strong -Wformat -Werror=format-security' \
  CGO_CPPFLAGS='-Wdate-time -D_FORTIFY_SOURCE=2' CGO_LDFLAGS='-Wl,-z,relro -Wl,-z,now'

deb:
	rm -f $(DEB_DIR)/webservicemonitor_*.deb
	$(DEB_CGO_ENV) $(GO) build $(DEB_GOFLAGS) -ldflags "$(DEB_LDFLAGS)" -o $(DEB_BIN) ./cmd/webservicemonitor
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) \
	  $(GO) -C deploy/mkdeb run . -root '$(CURDIR)' -binary $(DEB_BIN) -out $(DEB_DIR) \
	    -version '$(VERSION)' -commit '$(COMMIT)' -commits $$(git rev-list --count HEAD 2>/dev/null || echo 0) \
	    -maintainer '$(MAINTAINER)'

# `make vulncheck` runs govulncheck (pinned) on the shipped binary and on the
# source, failing on any reachable vulnerability. Its database is built by
# tools/vulndb from the golang.org/x/vulndb module, since the module proxy is
# the only network CI reaches; bump VULNDB_VERSION to take newer reports.
GOVULNCHECK    := $(GO) run golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB_VERSION := v0.0.0-20261105234957-e22db6528018
VULNDB_DIR     := bin/vulndb

.PHONY: vulncheck
vulncheck: build
	$(GO) run ./tools/vulndb -go '$(GO)' -version $(VULNDB_VERSION) -out $(VULNDB_DIR)
	$(GOVULNCHECK) -db 'file://$(CURDIR)/$(VULNDB_DIR)' -mode binary bin/webservicemonitor
	$(GOVULNCHECK) -db 'file://$(CURDIR)/$(VULNDB_DIR)' ./...

clean:
	rm -rf bin
