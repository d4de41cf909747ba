# pop3spec and pop3-reference-server in a slim image: the suite and the RFC
# texts are built into pop3spec, so the image needs nothing else.
#
# Untested: this project's machines have no container runtime or base images,
# so this file has never been built here (see "Running in a container" in
# README.md). The same `cargo install` commands are tested by ci/install.sh.
#
#   docker build -t pop3spec .
#   docker run --rm --network host pop3spec run --host 127.0.0.1 --port 110 --user test --pass secret

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo install --locked --path . --root /out \
 && cargo install --locked --path reference-server --root /out

FROM debian:bookworm-slim
# TLS roots are built into pop3spec (webpki-roots), so no ca-certificates.
COPY --from=build /out/bin/pop3spec /out/bin/pop3-reference-server /usr/local/bin/
RUN useradd --system --create-home --home-dir /work pop3spec
USER pop3spec
WORKDIR /work
ENTRYPOINT ["pop3spec"]
CMD ["run"]
