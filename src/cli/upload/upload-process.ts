import { runAsProcess } from '../run-as-process.js';
import { BarReporter } from './reporters/bar-reporter.js';
import { JsonReporter } from './reporters/json-reporter.js';
import { PlainReporter } from './reporters/plain-reporter.js';
import type { Output, Reporter } from './reporters/reporter.js';
import { runUpload } from './run-upload.js';
import type { UploadSettings } from './settings.js';

/** The reporter that fits where the output goes. */
export function reporterFor(settings: UploadSettings, out: Output): Reporter {
  if (settings.json) return new JsonReporter(out);
  return out.stderr.isTTY ? new BarReporter(out) : new PlainReporter(out);
}

/** `tessera upload` as a process (see runAsProcess). */
export function runUploadCommand(settings: UploadSettings): Promise<never> {
  const out: Output = { stdout: process.stdout, stderr: process.stderr };
  return runAsProcess((signal) => runUpload(settings, reporterFor(settings, out), signal));
}
