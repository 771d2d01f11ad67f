# syntax=docker/dockerfile:1
# Build mode for Rust (written by `dockyard init`): every compile runs on the build machine's
# own platform ($BUILDPLATFORM) and cross-compiles to a static musl target, so no stage is
# emulated. The linker is zig (cargo-zigbuild): one C compiler and linker for every target.
ARG RUST_VERSION=1
FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-bookworm AS chef
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip \
    && pip3 install --break-system-packages ziglang \
    && cargo install --locked cargo-chef cargo-zigbuild
WORKDIR /src

# The recipe lists the dependencies only, so the cook stage below stays cached until they change.
FROM --platform=$BUILDPLATFORM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM --platform=$BUILDPLATFORM chef AS cook
ARG TARGETARCH
ARG TARGETVARIANT
# The one TARGETARCH/TARGETVARIANT -> Rust target table.
RUN case "${TARGETARCH}${TARGETVARIANT}" in \
      amd64) triple=x86_64-unknown-linux-musl ;; \
      arm64) triple=aarch64-unknown-linux-musl ;; \
      armv7) triple=armv7-unknown-linux-musleabihf ;; \
      armv6) triple=arm-unknown-linux-musleabihf ;; \
      armv5) triple=armv5te-unknown-linux-musleabi ;; \
      386) triple=i686-unknown-linux-musl ;; \
      ppc64le) triple=powerpc64le-unknown-linux-musl ;; \
      s390x) triple=s390x-unknown-linux-musl ;; \
      riscv64) triple=riscv64gc-unknown-linux-musl ;; \
      mips64le) triple=mips64el-unknown-linux-muslabi64 ;; \
      *) echo "no Rust target for ${TARGETARCH}${TARGETVARIANT}" >&2; exit 1 ;; \
    esac \
    && echo "$triple" > /rust-target && rustup target add "$triple"
COPY --from=planner /src/recipe.json recipe.json
# Each platform gets its own target-directory cache (id=): two platforms building at once never
# share one.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=cargo-target-${TARGETARCH}${TARGETVARIANT},target=/src/target \
    cargo chef cook --release --zigbuild --target "$(cat /rust-target)" --recipe-path recipe.json

FROM --platform=$BUILDPLATFORM cook AS build
COPY . .
# The target directory is a cache mount, gone after this RUN: the binary is copied out here.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=cargo-target-${TARGETARCH}${TARGETVARIANT},target=/src/target \
    cargo zigbuild --release --target "$(cat /rust-target)" \
    && mkdir -p /out && cp "target/$(cat /rust-target)/release/@NAME@" /out/@NAME@

FROM scratch
COPY --from=build /out/@NAME@ /@NAME@
USER 65532:65532
ENTRYPOINT ["/@NAME@"]
