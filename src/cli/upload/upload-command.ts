import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import ms from 'ms';
import { CLIENT_CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../client/index.js';
import { parseSize } from '../format.js';
import type { UploadSettings } from './settings.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:1080/files';
const DEFAULT_CHUNK = '8MiB';
const DEFAULT_STALL_TIMEOUT = '30s';

// Set by tus-js-client or by the CLI itself; a --header must not fight them.
const RESERVED_HEADERS = new Set([
  'tus-resumable',
  'upload-offset',
  'upload-length',
  'upload-defer-length',
  'upload-metadata',
  'upload-concat',
  'upload-checksum',
  'content-type',
  'content-length',
  'x-http-method-override',
]);

export const integer = (name: string, min: number, max: number) => (raw: string) => {
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
  }
  return value;
};

function chunkSize(raw: string): number {
  if (/^(inf|infinity|none)$/i.test(raw.trim())) return Number.POSITIVE_INFINITY;
  const bytes = parseSize(raw);
  if (bytes === undefined || bytes < 1) throw new InvalidArgumentError('use a size such as 8MiB, 512KiB, 1000000, or "inf".');
  return bytes;
}

function checksum(raw: string): ChecksumAlgorithm | null | 'auto' {
  const name = raw.trim().toLowerCase();
  if (name === 'none') return null;
  if (name === 'auto') return 'auto';
  if ((CLIENT_CHECKSUM_ALGORITHMS as readonly string[]).includes(name)) return name as ChecksumAlgorithm;
  throw new InvalidArgumentError(`use auto, one of ${CLIENT_CHECKSUM_ALGORITHMS.join(', ')}, or none.`);
}

/** A duration such as 30s, 2m or 500ms (a bare number is milliseconds); 0 turns the watchdog off. */
function stallTimeout(raw: string): number {
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : text ? ms(text as ms.StringValue) : undefined;
  if (value === undefined || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError('use a duration such as 30s, 2m or 500ms, or 0 for never.');
  return value;
}

/** An http(s) URL argument; `example` is shown when it is not one. */
export const httpUrl = (example: string) => (raw: string): string => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(`must be an http(s) URL such as ${example}.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidArgumentError('must be an http or https URL.');
  return url.toString();
};

const endpoint = httpUrl('http://127.0.0.1:1080/files');

function metadataEntry(raw: string, previous: Record<string, string>): Record<string, string> {
  const at = raw.indexOf('=');
  const key = at < 0 ? raw : raw.slice(0, at);
  // tus: keys are non-empty, without spaces or commas, and unique.
  if (!/^[^\s,=]+$/.test(key)) throw new InvalidArgumentError('use key=value with a key free of spaces, commas and "=".');
  if (key === 'sha256') throw new InvalidArgumentError('sha256 is computed from the file by the CLI.');
  if (key in previous) throw new InvalidArgumentError(`metadata key "${key}" given twice.`);
  return { ...previous, [key]: at < 0 ? '' : raw.slice(at + 1) };
}

export function headerEntry(raw: string, previous: Record<string, string>): Record<string, string> {
  const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):\s*(.*)$/.exec(raw);
  if (!match) throw new InvalidArgumentError('use "Name: value".');
  const name = match[1] as string;
  if (RESERVED_HEADERS.has(name.toLowerCase())) throw new InvalidArgumentError(`${name} is set by the tus protocol itself.`);
  if (/[\r\n]/.test(match[2] as string)) throw new InvalidArgumentError('a header value cannot span lines.');
  return { ...previous, [name]: match[2] as string };
}

interface RawOptions {
  endpoint: string;
  parallel: number;
  chunkSize: number;
  checksum: ChecksumAlgorithm | null | 'auto';
  metadata: Record<string, string>;
  header: Record<string, string>;
  retries: number;
  stallTimeout: number;
  stateDir: string;
  resume: boolean;
  json: boolean;
  direct: boolean;
}

/** `tessera upload FILE [options]`; the action gets validated settings. */
export function uploadCommand(action: (settings: UploadSettings) => Promise<void>): Command {
  return new Command('upload')
    .description('upload a file to a Tessera (tus) server; resumes an interrupted upload of the same file')
    .argument('<file>', 'the file to upload')
    .option('-e, --endpoint <url>', 'tus endpoint (creation URL)', endpoint, DEFAULT_ENDPOINT)
    .option('-p, --parallel <n>', 'upload in n parts at once (tus concatenation)', integer('--parallel', 1, 64), 1)
    .addOption(
      new Option('-c, --chunk-size <size>', 'bytes per PATCH request (e.g. 8MiB, 512KiB, inf)')
        .argParser(chunkSize)
        .default(chunkSize(DEFAULT_CHUNK), DEFAULT_CHUNK),
    )
    .addOption(
      new Option(
        '--checksum <algo>',
        'Upload-Checksum with every chunk: the server refuses a damaged chunk (460) and it is resent; auto: crc32, or another the server offers',
      )
        .choices(['auto', ...CLIENT_CHECKSUM_ALGORITHMS, 'none'])
        .argParser(checksum)
        .default('auto' as const, 'auto'),
    )
    .addOption(
      new Option('-m, --metadata <key=value>', 'Upload-Metadata entry (repeatable); filename is set from the file')
        .argParser(metadataEntry)
        .default({}, 'none'),
    )
    .addOption(
      new Option('-H, --header <"Name: value">', 'extra request header, e.g. Authorization (repeatable)')
        .argParser(headerEntry)
        .default({}, 'none'),
    )
    .option('-r, --retries <n>', 'retries per request, with backoff 0.5s, 1s, 2s ... 10s', integer('--retries', 0, 100), 10)
    .addOption(
      new Option('--stall-timeout <duration>', 'a request with no progress for this long is aborted and resumed (0: never)')
        .argParser(stallTimeout)
        .default(stallTimeout(DEFAULT_STALL_TIMEOUT), DEFAULT_STALL_TIMEOUT),
    )
    .option('--state-dir <dir>', 'where upload URLs are kept for resuming', path.join(os.homedir(), '.tessera'))
    .option('--no-resume', 'start a new upload even if an earlier one of this file can be resumed')
    .option('--json', 'machine-readable JSON lines on stdout (events, then the result)', false)
    .option('--direct', 'send the bytes straight to S3 in presigned parts (a server with S3_DIRECT); --chunk-size sets the part size, --parallel how many at once', false)
    .action(async (file: string, options: RawOptions) => {
      await action({
        file,
        endpoint: options.endpoint,
        parallel: options.parallel,
        chunkSize: options.chunkSize,
        checksum: options.checksum,
        metadata: options.metadata,
        headers: options.header,
        retries: options.retries,
        stallTimeoutMs: options.stallTimeout,
        stateDir: path.resolve(options.stateDir),
        resume: options.resume,
        json: options.json,
        direct: options.direct,
      });
    });
}
