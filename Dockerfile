# The runbook image the scheduled Fargate tasks (and the dev scheduler container) run.
# CI's image job builds it, scans it and pushes it; prod pins the pushed digest
# (tickvault:aws.runbookImage = ghcr.io/<org>/tickvault-runbooks:<version>@sha256:…).
FROM node:20.19.5-bookworm-slim
# Client tools of the server's major version: pg_dump/pg_restore talk to PostgreSQL 15
# (timescaledb-ha pg15); test/infra/image.test.ts holds this equal to the images' major.
ARG PG_MAJOR=15
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates "postgresql-client-${PG_MAJOR}" redis-tools pgbackrest \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --loglevel=error
COPY tsconfig.json ./
COPY runbooks ./runbooks
COPY infra/jobs.ts ./infra/jobs.ts
COPY infra/scheduler ./infra/scheduler
# The runbooks' audit log, locks and staging live here: writable by the image's user
# (/app stays root-owned and read-only to it). Fargate's ephemeral storage backs it.
ENV TICKVAULT_HOME=/var/lib/tickvault
RUN mkdir -p /var/lib/tickvault && chown node:node /var/lib/tickvault
USER node
ENTRYPOINT ["npx", "tsx"]
CMD ["runbooks/backup.ts", "--help"]
