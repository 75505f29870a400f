# Ronda's container image: one static binary on an empty base, run as a
# non-root user, with nothing else to execute (no shell, no package manager).
#
#   docker build -t ronda .        # or: podman build -t ronda .
#   docker run --read-only -v ronda-data:/var/lib/ronda \
#     -v "$PWD/serve.yaml:/etc/ronda/serve.yaml:ro" -p 8080:8080 ronda
#
# deploy/image/image_test.go builds the same image offline (go-containerregistry)
# and checks its user, entrypoint and files with skopeo: keep the two in step.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ronda ./cmd/ronda
# The data directory, owned by the runtime user, so a fresh named volume
# mounted there starts writable (scratch has no mkdir to run).
RUN mkdir -p /out/data && chown 65532:65532 /out/data

FROM scratch
# CA certificates for ClickHouse over TLS and the escalation URL; time zones
# are embedded in the binary (time/tzdata), so no zoneinfo is copied.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chmod=0755 /out/ronda /ronda
# Everything Ronda writes (state.dir, the ClickHouse spool, an edge's forward
# spool, which default under the user cache dir) goes to one mounted volume,
# so the root filesystem can be read-only.
ENV XDG_CACHE_HOME=/var/lib/ronda \
    RONDA_STATE_DIR=/var/lib/ronda/state \
    RONDA_SPOOL_DIR=/var/lib/ronda/spool \
    RONDA_LISTEN=:8080
COPY --from=build --chown=65532:65532 /out/data /var/lib/ronda
WORKDIR /var/lib/ronda
VOLUME ["/var/lib/ronda"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ronda"]
CMD ["serve", "--config", "/etc/ronda/serve.yaml"]
