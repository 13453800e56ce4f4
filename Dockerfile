# modelgate on embedded defaults (LMDB + local blob folder under /data).
# Node 20 on bookworm: the uWebSockets.js build in use needs glibc 2.36 and Node 20's ABI.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY bench ./bench
COPY ui ./ui
COPY scripts ./scripts
COPY test ./test
COPY config ./config
COPY bin ./bin
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \
    MODELGATE_HOST=0.0.0.0 \
    MODELGATE_PORT=8080 \
    MODELGATE_DATA_DIR=/data
COPY package.json package-lock.json ./
# Dependency install scripts are not needed: lmdb and uWebSockets.js ship prebuilt binaries.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY config ./config
COPY bin ./bin
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/cli/main.js", "serve"]
