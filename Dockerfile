# raftexample-ts: one node per container.
#   docker build -t raftexample-ts .
#   docker run --rm -p 12380:12380 -p 12379:12379 -v rx1:/data raftexample-ts \
#     --id 1 --cluster http://0.0.0.0:12379 --port 12380

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly, so the runtime needs only the production dependencies.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 12379 12380
# Exec form: node is PID 1 and receives SIGTERM itself; main.ts handles it (graceful stop, exit 0).
ENTRYPOINT ["node", "--import", "tsx", "src/main.ts", "--data-dir", "/data"]
CMD ["--id", "1", "--cluster", "http://0.0.0.0:12379", "--port", "12380"]
