import { BarReporter } from './reporters/bar-reporter.js';
import { JsonReporter } from './reporters/json-reporter.js';
import { PlainReporter } from './reporters/plain-reporter.js';
import type { Output, Reporter } from './reporters/reporter.js';
import { EXIT } from './failure.js';
import { runUpload } from './run-upload.js';
import type { UploadSettings } from './settings.js';

/** The reporter that fits where the output goes. */
export function reporterFor(settings: UploadSettings, out: Output): Reporter {
  if (settings.json) return new JsonReporter(out);
  return out.stderr.isTTY ? new BarReporter(out) : new PlainReporter(out);
}

/**
 * Runs an upload as a process: Ctrl-C (or SIGTERM) stops it cleanly, keeping what the
 * server has for the next run; a second Ctrl-C exits at once.
 */
export async function runUploadCommand(settings: UploadSettings): Promise<never> {
  const out: Output = { stdout: process.stdout, stderr: process.stderr };
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(EXIT.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await runUpload(settings, reporterFor(settings, out), controller.signal);
  // Keep-alive sockets and a hash still reading an interrupted file must not hold the exit.
  process.exit(code);
}
