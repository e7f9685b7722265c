# raftexample-ts: one node per container.
#   docker build -t raftexample-ts .
#   docker run --rm -p 12380:12380 -p 12379:12379 -v rx1:/data raftexample-ts \
#     --id 1 --cluster http://0.0.0.0:12379 --port 12380

# The build: tsc compiles src/ into dist/ (scripts/build.ts), which needs the dev dependencies.
# --ignore-scripts: package.json's prepare would build before the sources are copied in.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# The runtime needs only the production dependencies and the built node.
FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 12379 12380
# Exec form: node is PID 1 and receives SIGTERM itself; main.ts handles it (graceful stop, exit 0).
ENTRYPOINT ["node", "dist/main.js", "--data-dir", "/data"]
CMD ["--id", "1", "--cluster", "http://0.0.0.0:12379", "--port", "12380"]
