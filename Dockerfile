# ioplace: the extender (CMD) and the node agent (node dist/agent/main.js) in one image.
#   docker build -t ioplace:dev .
# The manifests run it as user 10001 with a read-only root filesystem.

# --- build: compile TypeScript to dist/ -----------------------------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
# The lockfile alone decides what is installed (npm ci); package.json's "overrides" are already
# in it. No dependency needs an install script to build (esbuild's only checks its binary), and
# our own prepare script (the build, for a clone's `npm ci`) cannot run before src/ is copied:
# --ignore-scripts, then the build explicitly.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# --- runtime: production dependencies, dist/ and the default config -----------------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Production dependencies only. --ignore-scripts skips our prepare script (the build, which needs
# the dev dependencies): dist/ comes from the build stage. No dependency has an install script.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
# The agent shapes pods' bandwidth with tc and reads their network namespaces with ip (iproute2);
# nsenter comes with util-linux, already in the base image. The extender never runs either.
RUN apt-get update \
  && apt-get install -y --no-install-recommends iproute2 \
  && rm -rf /var/lib/apt/lists/*
COPY --from=build /app/dist ./dist
COPY config ./config
# Numeric, so that Kubernetes can check runAsNonRoot; it owns nothing in the image.
USER 10001:10001
EXPOSE 8080
# node is PID 1: ioplace handles SIGTERM itself (finishes requests in flight, then exits).
CMD ["node", "dist/main.js"]
