# syntax=docker/dockerfile:1
#
# Herald: Discord bot + web surface, one binary.
# Build:  docker build -t herald:latest .
# Run:    docker run --env-file .env -p 8000:8000 -v herald-data:/app/data herald:latest

# ---------------------------------------------------------------- builder ---
FROM rust:1.95-slim-bookworm AS builder

WORKDIR /app

# rustls only, so no OpenSSL headers are needed; the slim image's gcc builds
# the bundled SQLite.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY web ./web
COPY commands ./commands
# Embedded into the binary at compile time (rust-embed, sqlx::migrate!).
COPY templates ./templates
COPY public ./public
COPY migrations ./migrations
# Cargo.toml declares [[test]] tests/api/main.rs; cargo wants it present.
COPY tests ./tests

# The registry and target dir live in BuildKit cache mounts so that
# dependencies are only rebuilt when Cargo.lock changes; the binary is copied
# out of the cache mount because mounts are not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/app/target \
    cargo build --release --locked --bin herald \
    && cp /app/target/release/herald /usr/local/bin/herald

# ---------------------------------------------------------------- runtime ---
FROM debian:bookworm-slim AS runtime

# The repository has no canonical remote yet: pass
# --build-arg SOURCE_URL=https://... to fill in the source label.
ARG SOURCE_URL=""

LABEL org.opencontainers.image.title="herald" \
      org.opencontainers.image.description="Self-hosted Discord bot with a web surface: accounts, API keys, notifications, dashboard" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"

# CA roots for rustls (Discord gateway/API, outbound HTTPS); nothing else.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user; /app/data (SQLite) and /app/logs are owned by it so that
# named volumes mounted there inherit the ownership.
RUN groupadd --system --gid 10001 herald \
    && useradd --system --uid 10001 --gid herald --home-dir /app \
       --no-create-home --shell /usr/sbin/nologin herald \
    && mkdir -p /app/data /app/logs \
    && chown -R herald:herald /app

COPY --from=builder /usr/local/bin/herald /usr/local/bin/herald

WORKDIR /app

# SECRET_KEY is required when HERALD_ENV=production: pass it at run time
# (--env-file / compose env_file), never bake it into the image.
ENV HERALD_HOST=0.0.0.0 \
    HERALD_PORT=8000 \
    DATABASE_URL=sqlite:///app/data/herald.db \
    LOG_DIR=/app/logs \
    HERALD_ENV=production \
    LOG_FORMAT=json

USER herald

EXPOSE 8000

VOLUME ["/app/data", "/app/logs"]

# The binary probes its own /healthz, so the image needs no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["herald", "healthcheck"]

# Herald drains connections and shuts down gracefully on SIGTERM.
STOPSIGNAL SIGTERM

ENTRYPOINT ["herald"]
CMD ["serve"]
