# The runbook image the BackupSchedule's Fargate task runs:
#   docker build -t ghcr.io/<org>/tickvault-runbooks:<version> .
# Pin the tag you push in tickvault:aws.runbookImage.
FROM node:20.19.5-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-client-15 redis-tools pgbackrest \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --loglevel=error
COPY tsconfig.json ./
COPY runbooks ./runbooks
USER node
ENTRYPOINT ["npx", "tsx"]
CMD ["runbooks/backup.ts", "--help"]
