import { Command, Option } from 'commander';
import { headerEntry, httpUrl, integer } from '../upload/upload-command.js';
import type { DownloadSettings } from './run-download.js';

const downloadUrl = httpUrl('http://127.0.0.1:1080/files/<id>');

interface RawOptions {
  header: Record<string, string>;
  retries: number;
  json: boolean;
  force: boolean;
}

/** `tessera download URL [FILE] [options]`; the action gets validated settings. */
export function downloadCommand(action: (settings: DownloadSettings) => Promise<void>): Command {
  return new Command('download')
    .description("download a finished upload; resumes an interrupted download of the same file and checks the server's SHA-256")
    .argument('<url>', 'the upload URL', downloadUrl)
    .argument('[file]', "where to write it (a directory takes the server's filename; default: the server's filename here)")
    .addOption(
      new Option('-H, --header <"Name: value">', 'extra request header, e.g. Authorization (repeatable; never sent to another host)')
        .argParser(headerEntry)
        .default({}, 'none'),
    )
    .option('-r, --retries <n>', 'retries after a network failure, with backoff 0.5s, 1s, 2s ... 10s', integer('--retries', 0, 100), 10)
    .option('-f, --force', 'replace the file if it exists', false)
    .option('--json', 'machine-readable JSON lines on stdout (events, then the result)', false)
    .action(async (url: string, file: string | undefined, options: RawOptions) => {
      await action({ url, file, headers: options.header, retries: options.retries, json: options.json, force: options.force });
    });
}
