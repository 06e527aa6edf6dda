# Multi-stage build: compile with dev dependencies, run with production dependencies only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# MALLOC_ARENA_MAX=2: glibc gives every libvips worker thread its own malloc arena otherwise, which bloats RSS
# under image rendering (sharp's advice for glibc systems). MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ at 128 KiB:
# glibc otherwise raises its mmap threshold after the first large free (up to 32 MiB), after which libvips' big
# per-render buffers come from the arenas and stay resident once freed; fixed, they are mapped and unmapped per render.
ENV NODE_ENV=production PORT=3000 LOCAL_STORAGE_ROOT=/data MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
RUN groupadd --system --gid 10001 media && useradd --system --uid 10001 --gid media --home /app media \
  && mkdir -p /data && chown media:media /data
# Code stays owned by root (read-only to the service); only /data belongs to the service user.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 10001:10001
EXPOSE 3000
VOLUME ["/data"]
# The service drains on SIGTERM (readiness fails, in-flight requests and jobs finish, then it exits 0); node is
# PID 1 here and handles the signal itself (see apps/api/src/graceful-shutdown.ts).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
CMD ["node", "dist/apps/api/src/main.js"]
