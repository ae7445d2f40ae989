import { pino, type Logger } from 'pino';

export interface MemoryLog {
  readonly logger: Logger;
  /** Every JSON line written so far, parsed. */
  readonly lines: Record<string, unknown>[];
}

/** A real pino logger whose JSON lines land in memory, for asserting on log content. */
export function memoryLog(level: pino.LevelWithSilent = 'debug'): MemoryLog {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level, base: { service: 'tessera' } },
    {
      write(chunk: string) {
        for (const line of chunk.split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, lines };
}
