# Three stages: the editor with Node, the static binary with Go (the editor
# embedded), and a small runtime image that holds only the binary.

FROM node:20-bookworm-slim AS web
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN mkdir -p ../api/web/dist && npm run build

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/api/web/dist/ api/web/dist/
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/hookflow ./cmd/hookflow \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hookflow /usr/local/bin/hookflow
# The data dir holds the SQLite database (when no Postgres is configured) and
# the credentials key file; a volume mounted here inherits this ownership.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV HOOKFLOW_ADDR=:8080 \
    HOOKFLOW_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/hookflow"]
CMD ["serve"]
