import { EXIT } from './upload/failure.js';

/**
 * Runs a transfer as a process: Ctrl-C (or SIGTERM) stops it cleanly, keeping what it did for
 * the next run; a second Ctrl-C exits at once. Exits with the code the transfer returns
 * (keep-alive sockets and a hash still reading must not hold the exit).
 */
export async function runAsProcess(transfer: (signal: AbortSignal) => Promise<number>): Promise<never> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.exit(await transfer(controller.signal));
}
