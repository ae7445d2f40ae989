/** The peer users would pick instead: stock @tus/server + @tus/file-store on plain node:http. */
import http from 'node:http';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: process.env.DATA_DIR ?? '.' }) });
const server = http.createServer((req, res) => void tus.handle(req, res));
server.requestTimeout = 0;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
