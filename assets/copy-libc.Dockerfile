# Copy mode, dynamically linked binary (written by `dockyard init`). dockyard stages each
# platform's prebuilt binary (@BINARY@) at dist/${TARGETARCH}${TARGETVARIANT}/@NAME@ in the build
# context it hands the engine. The binary needs a C library, so the base is a small glibc image.
FROM debian:bookworm-slim
ARG TARGETARCH
ARG TARGETVARIANT
COPY dist/${TARGETARCH}${TARGETVARIANT}/@NAME@ /usr/local/bin/@NAME@
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/@NAME@"]
