export interface BenchArgs {
  /** Smaller sizes and fewer repetitions: the whole run stays under a minute. */
  readonly quick: boolean;
  /** Run only these case ids (repeatable `--only <id>`); empty means all. */
  readonly only: readonly string[];
}

/** `--quick` and `--only <case>`: too small for a parser dependency. */
export function parseArgs(argv: readonly string[], knownCases: readonly string[]): BenchArgs {
  let quick = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg?.startsWith('--only=')) {
      const value = arg === '--only' ? argv[(i += 1)] : arg.slice('--only='.length);
      for (const id of (value ?? '').split(',').filter(Boolean)) {
        if (!knownCases.includes(id)) throw new Error(`unknown case "${id}"; known: ${knownCases.join(', ')}`);
        only.push(id);
      }
      if (!value) throw new Error('--only needs a case id');
    } else if (arg === '--help' || arg === '-h') {
      throw new Error(`usage: npm run bench -- [--quick] [--only <${knownCases.join('|')}>]`);
    } else throw new Error(`unknown argument "${arg}" (try --help)`);
  }
  return { quick, only };
}
