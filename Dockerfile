# bqgate gateway image. The ZetaSQL analyzer binary ships inside @fivetrandevelopers/zetasql.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm install --no-save tsx

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production BQGATE_HOST=0.0.0.0 BQGATE_DATA_DIR=/data METADATA_SERVER_DETECTION=none
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY policies ./policies
COPY fixtures ./fixtures
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 9050
VOLUME ["/data"]
CMD ["node", "bin/bqgate.js", "serve"]
