FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build:web
ENV HOST=0.0.0.0 PORT=1080 DATA_DIR=/data
EXPOSE 1080
RUN mkdir -p /data && chown node:node /data
USER node
CMD ["npm", "start"]
