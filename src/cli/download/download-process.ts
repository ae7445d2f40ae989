import { runAsProcess } from '../run-as-process.js';
import type { Output } from '../upload/reporters/reporter.js';
import { BarDownloadReporter, JsonDownloadReporter, PlainDownloadReporter, type DownloadReporter } from './download-reporters.js';
import { runDownload, type DownloadSettings } from './run-download.js';

/** The reporter that fits where the output goes. */
function reporterFor(settings: DownloadSettings, out: Output): DownloadReporter {
  if (settings.json) return new JsonDownloadReporter(out);
  return out.stderr.isTTY ? new BarDownloadReporter(out) : new PlainDownloadReporter(out);
}

/** `tessera download` as a process (see runAsProcess). */
export function runDownloadCommand(settings: DownloadSettings): Promise<never> {
  const out: Output = { stdout: process.stdout, stderr: process.stderr };
  return runAsProcess((signal) => runDownload(settings, reporterFor(settings, out), signal));
}
