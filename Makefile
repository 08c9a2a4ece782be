# The two commands a newcomer needs: `make run` and `make test`.

VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BIN     := bin/hookflow
GOFILES  = $(shell git ls-files --cached --others --exclude-standard '*.go')
NPM_STAMP := frontend/node_modules/.installed

.PHONY: build web run test check test-go test-web test-e2e screenshots chromium shell-tools api-types check-api-types clean

## build: the editor, then one static binary with the editor embedded.
build: web
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hookflow

## web: the editor's production build, written into api/web/dist for go:embed.
web: $(NPM_STAMP)
	rm -rf api/web/dist/assets api/web/dist/index.html
	cd frontend && npm run build

$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund
	touch $@

## run: build everything and serve on :8080 with SQLite in ./hookflow-data.
run: build
	./$(BIN) serve

## test: every test. Go with -race on SQLite and Postgres, then the editor's
## unit tests, then the browser tests against the real binary.
test: check test-go test-web test-e2e

## check: go vet and gofmt.
check:
	go vet ./...
	@unformatted="$$(gofmt -l $(GOFILES))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

## test-go: Go tests with the race detector, on SQLite and on Postgres, with
## the local message brokers (started if missing: .ci/with-brokers)
## (TEST_DATABASE_URL, the server at 127.0.0.1:5432, or a throwaway cluster).
## The README's curl section runs in them, with curl and jq.
test-go: shell-tools
	.ci/with-brokers .ci/with-postgres go test -race -count=1 -timeout 15m ./...

## test-web: the editor's API types against the OpenAPI document, its type
## check and unit tests.
test-web: check-api-types
	cd frontend && npm run typecheck && npm test

## api-types: generate the editor's API types (frontend/src/api.gen.ts) from
## the OpenAPI document the server serves; check-api-types fails when they
## are not what it would generate.
API_TYPES = cd frontend && npx openapi-typescript "$$doc" --empty-objects-unknown -o src/api.gen.ts
api-types check-api-types: $(NPM_STAMP)
	@doc="$$(mktemp --suffix=.json)"; trap 'rm -f "$$doc"' EXIT; \
	go run ./cmd/hookflow openapi > "$$doc" && \
	if [ $@ = api-types ]; then $(API_TYPES); \
	else $(API_TYPES) --check || { echo "frontend/src/api.gen.ts is out of date with the OpenAPI document: run make api-types"; exit 1; }; fi

## test-e2e: the editor in Debian's chromium (installed if missing), driven by
## playwright-core against bin/hookflow on a temporary SQLite; a test fails on
## a console error, a failed request or an accessibility violation. The
## tests' screenshots go to frontend/test-results/.
test-e2e: build chromium
	cd frontend && npm run e2e

## screenshots: the committed screenshots of each screen, frontend/screenshots/,
## taken again (stale ones removed).
screenshots: build chromium
	rm -f frontend/screenshots/*.png
	cd frontend && SCREENSHOTS=1 node --test e2e/screenshots.test.mjs

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

shell-tools:
	@command -v curl >/dev/null && command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq curl jq; }

clean:
	rm -rf bin api/web/dist/assets api/web/dist/index.html frontend/node_modules
