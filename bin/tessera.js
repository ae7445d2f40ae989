#!/usr/bin/env node
// The `tessera` command: runs the TypeScript sources through tsx (a runtime dependency),
// so a fresh clone works after `npm ci` without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/index.ts');
