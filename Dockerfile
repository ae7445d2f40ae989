FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Compiled JavaScript: no TypeScript loader at run time (about 30 MiB less memory per instance).
RUN npm run build
ENV HOST=0.0.0.0 PORT=1080 DATA_DIR=/data
EXPOSE 1080
RUN mkdir -p /data && chown node:node /data
USER node
# V8 flags: see src/config/node-flags.ts.
CMD ["node", "--initial-old-space-size=128", "dist/src/cli/index.js", "serve"]
