# Gateway image: build with the full toolchain, run on a slim Node 20.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.client.json nest-cli.json ./
COPY proto proto
COPY scripts/gen-proto.js scripts/bundle.js scripts/
COPY src src
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production GATEWAY_HOST=0.0.0.0 GATEWAY_GOVERNANCE_HOST=0.0.0.0 GATEWAY_BALANCER_HOST=0.0.0.0
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY config config
COPY package.json ./
# 9002 the gateway, 9003 governance (+ the admin UI at /ui); GATEWAY_ROLE=balancer serves 8080
EXPOSE 9002 9003 8080
USER node
CMD ["node", "--max-semi-space-size=16", "--v8-pool-size=1", "dist/src/main.js"]
