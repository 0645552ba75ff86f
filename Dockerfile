# bqgate gateway image: multi-stage, runs the compiled server (dist/) as a non-root user, with
# production dependencies only and no TypeScript sources; includes the ZetaSQL analyzer
# (remote_server from @fivetrandevelopers/zetasql, a native binary installed by npm).
#   docker build -t bqgate .
#   docker run -p 9050:9050 -e BQGATE_HOST=0.0.0.0 bqgate
# Debian bookworm matches the glibc the ZetaSQL binary and better-sqlite3 are built for; Node 22 is
# the minimum the dependencies support (package.json engines). test/packaging.test.ts runs these
# stages' commands in a clean copy of the tree and starts the runtime stage's command.

# Build: every dependency (the compilers are dev dependencies), the server compiled (tsc, src/ →
# dist/) and the web console's static files (Vite, console/dist), then the dev dependencies pruned.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# Native addons (better-sqlite3) build with the toolchain when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-server.mjs ./scripts/
COPY src ./src
COPY console ./console
RUN npm run build
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    BQGATE_HOST=0.0.0.0 \
    BQGATE_PORT=9050 \
    BQGATE_DATA_DIR=/var/lib/bqgate \
    BQGATE_POLICIES=/app/policies \
    BQGATE_FIXTURES=/app/fixtures \
    METADATA_SERVER_DETECTION=none
# DuckDB statements each hold a libuv worker thread while they run; the emulator runs at most
# UV_THREADPOOL_SIZE - 1 at once (src/emulator/index.ts), so the image gives it more than Node's 4.
ENV UV_THREADPOOL_SIZE=16
WORKDIR /app
RUN groupadd --system --gid 10001 bqgate && useradd --system --uid 10001 --gid bqgate --home-dir /var/lib/bqgate --shell /usr/sbin/nologin bqgate \
    && mkdir -p /var/lib/bqgate && chown bqgate:bqgate /var/lib/bqgate
COPY --from=build --chown=root:root /app/package.json /app/package-lock.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/console/dist ./console/dist
COPY bin ./bin
COPY policies ./policies
COPY fixtures ./fixtures
USER 10001:10001
EXPOSE 9050
VOLUME ["/var/lib/bqgate"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.BQGATE_PORT||9050)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/bqgate.js"]
CMD ["serve"]
