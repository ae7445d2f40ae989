/** The peer users would pick instead: stock @tus/server + @tus/file-store on plain node:http. */
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { serve } from './serve.js';

const tus = new Server({ path: '/files', datastore: new FileStore({ directory: process.env.DATA_DIR ?? '.' }) });
serve((req, res) => void tus.handle(req, res));
