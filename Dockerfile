# syntax=docker/dockerfile:1
# Pinned toolchain and base image tags (bump deliberately; pin digests in
# your own registry mirror for fully reproducible builds).
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$(git describe --always 2>/dev/null || echo docker)" -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# /data holds the embedded SQLite database and its generated key (mount a
# volume there); owned by the nonroot user (65532) so a fresh volume is
# writable.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data
ENV GATEHOUSE_SQLITE_PATH=/data/gatehouse.db
USER nonroot
# 8080: the public listener; 9090: operations (/metrics, /healthz, /readyz),
# bound to loopback unless GATEHOUSE_ADMIN_ADDR says otherwise.
EXPOSE 8080 9090
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
