import { pino, type Logger } from 'pino';
import type { Config } from '../config/config.js';

export type { Logger };

/** Structured JSON logs; every line about an upload carries `uploadId`. */
export function createLogger(level: Config['logLevel'], destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'tessera' } }, destination);
}
