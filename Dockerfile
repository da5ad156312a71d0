# One image for every service; docker-compose.yml picks the entry point per service.
# Services run from TypeScript through tsx, as in development, so there is no build
# step to drift from the tested code.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
COPY proto ./proto
COPY scripts ./scripts
# Dev dependencies stay: tsx runs the services and ts-proto generates the contracts.
RUN npm ci --no-audit --no-fund && npm run gen && npm cache clean --force
ENV NODE_ENV=production
USER node
EXPOSE 7001 7002 7003 7081 7082 7083
