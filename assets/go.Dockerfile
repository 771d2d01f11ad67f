# syntax=docker/dockerfile:1
# Build mode for Go (written by `dockyard init`): the compiler runs on the build machine's own
# platform ($BUILDPLATFORM) and cross-compiles with GOOS/GOARCH/GOARM, so no stage is emulated.
ARG GO_VERSION=1
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum* ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG TARGETVARIANT
# CGO_ENABLED=0: a static binary that runs FROM scratch. GOARM only matters for GOARCH=arm.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,id=go-build-${TARGETARCH}${TARGETVARIANT},target=/root/.cache/go-build \
    case "$TARGETVARIANT" in v5) goarm=5 ;; v6) goarm=6 ;; *) goarm=7 ;; esac \
    && mkdir -p /out \
    && CGO_ENABLED=0 GOOS="$TARGETOS" GOARCH="$TARGETARCH" GOARM="$goarm" \
       go build -trimpath -ldflags="-s -w" -o /out/@NAME@ .

FROM scratch
COPY --from=build /out/@NAME@ /@NAME@
USER 65532:65532
ENTRYPOINT ["/@NAME@"]
