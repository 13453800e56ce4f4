# modelgate on embedded defaults (LMDB + local blob folder under /data), as an unprivileged user.
# Node 20 on bookworm: the uWebSockets.js build in use needs glibc 2.36 and Node 20's ABI.

# Build stage: everything needed to compile the server, its workers and the console; tests and
# bench are not copied, so they can neither be built nor end up in the image.
FROM node:20-bookworm-slim AS build
WORKDIR /app
# C and C++ compilers for the native addons (native/mapped-range.c, which downloads map blobs with;
# native/socket-send.cc, which large download bodies go out with by sendfile; native/send-file.c,
# which `modelgate push` sends files with; native/peer-address.cc, which fleet counting reads a
# caller's address with; built by `npm run build` against the Node headers this image ships);
# without them downloads copy through uWS (or use pread), uploads read the file and peer addresses
# are read with a system call each.
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ libc6-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY ui ./ui
COPY config ./config
COPY bin ./bin
COPY native ./native
COPY scripts/build-cli.ts scripts/build-native.ts ./scripts/
# npm ci runs the prepare script, which builds (tsc, the bundled CLI with esbuild, then the console with vite).
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="modelgate" \
      org.opencontainers.image.description="Model registry with a fast edge: content-addressed artifacts, governed stages, microsecond resolves" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/modelgate/modelgate" \
      org.opencontainers.image.licenses="UNLICENSED"
WORKDIR /app
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    MODELGATE_HOST=0.0.0.0 \
    MODELGATE_PORT=8080 \
    MODELGATE_DATA_DIR=/data \
    MODELGATE_CHECKPOINT_KEY_FILE=/keys/checkpoint-key.pem
COPY package.json package-lock.json ./
# Production dependencies only. Their install scripts are not needed: lmdb and uWebSockets.js
# ship prebuilt binaries.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
# The download mapping addon (empty where the build stage could not compile it: pread then).
COPY --from=build /app/dist/native ./dist/native
# The client CLI as bin/modelgate.js runs it (bundled); `serve` above runs from dist/src.
COPY --from=build /app/dist/cli ./dist/cli
COPY --from=build /app/dist/workers ./dist/workers
COPY --from=build /app/dist/ui ./dist/ui
COPY config ./config
COPY bin ./bin
# A fixed numeric id, so a volume's ownership can be prepared on the host; /data is where it
# writes its data, /keys the audit checkpoint key (generated on first start; mount a secret
# there instead to keep it off the host that holds the data).
RUN groupadd --system --gid 10001 modelgate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin modelgate \
 && mkdir -p /data /keys && chown 10001:10001 /data /keys && chmod 700 /keys
USER 10001:10001
VOLUME /data /keys
EXPOSE 8080
# /readyz answers 200 once the service can serve (index loaded), 503 while it cannot.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.MODELGATE_PORT || 8080}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Through the launcher, which starts the service in a Node with the flags it runs with (src/cli/serve-node-flags.ts).
CMD ["node", "bin/modelgate.js", "serve"]
