/**
 * The physical limit of this stack: a bare Node HTTP server that appends each request body to
 * a file, nothing else. `POST /upload/<name>` appends (so chunked uploads are N requests).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { serve, uploadName } from './serve.js';

const dir = process.env.DATA_DIR ?? '.';
serve((req, res) => {
  const name = uploadName(req, res);
  if (!name) return;
  pipeline(req, fs.createWriteStream(path.join(dir, name), { flags: 'a' })).then(
    () => res.writeHead(204).end(),
    () => res.writeHead(500).end(),
  );
});
