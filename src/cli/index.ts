import { Command, CommanderError } from 'commander';
import { EXIT } from './upload/failure.js';
import { serveCommand } from './serve-command.js';
import { uploadCommand } from './upload/upload-command.js';
import type { UploadSettings } from './upload/settings.js';
import { downloadCommand } from './download/download-command.js';
import type { DownloadSettings } from './download/run-download.js';

const VERSION = '0.1.0';

async function upload(settings: UploadSettings): Promise<void> {
  // Loaded on use, so `tessera serve` does not pay for tus-js-client and the bars.
  const { runUploadCommand } = await import('./upload/upload-process.js');
  await runUploadCommand(settings);
}

async function download(settings: DownloadSettings): Promise<void> {
  const { runDownloadCommand } = await import('./download/download-process.js');
  await runDownloadCommand(settings);
}

const output = { outputError: (text: string, write: (str: string) => void) => write(`tessera: ${text}`) };

const program = new Command('tessera')
  .description('Tessera: a tus 1.0 resumable upload server, and a resumable uploader and downloader for it')
  .version(VERSION)
  .exitOverride()
  .configureOutput(output)
  .addCommand(serveCommand())
  .addCommand(uploadCommand(upload))
  .addCommand(downloadCommand(download));

for (const command of program.commands) command.exitOverride().configureOutput(output);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version end here too, with code 0.
    process.exitCode = error.exitCode === 0 ? 0 : EXIT.usage;
  } else {
    throw error;
  }
}
