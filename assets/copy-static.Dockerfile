# Copy mode, static binary (written by `dockyard init`). dockyard stages each platform's prebuilt
# binary (@BINARY@) at dist/${TARGETARCH}${TARGETVARIANT}/@NAME@ in the build context it hands
# the engine, so this file needs no shell to translate TARGETARCH into a toolchain's name.
FROM scratch
ARG TARGETARCH
ARG TARGETVARIANT
COPY dist/${TARGETARCH}${TARGETVARIANT}/@NAME@ /@NAME@
# A numeric user: scratch has no /etc/passwd to look a name up in.
USER 65532:65532
ENTRYPOINT ["/@NAME@"]
