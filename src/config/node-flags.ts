/**
 * V8 flags every launcher of the server passes to node: the package.json start scripts, the
 * Docker image and the test and benchmark launchers (test/unit/node-flags.test.ts keeps
 * them in step). They cannot go in NODE_OPTIONS, and come too late from inside the process.
 *
 * `--initial-old-space-size=128`: with V8's default start (an old generation of ~20 MB and a
 * limit of ~44 MB), streaming uploads made some processes run a full mark-compact every
 * ~90 ms for as long as they lived (about 30 per 256 MiB) and spend up to twice the CPU of
 * others; which ones was luck. With the limit starting at 128 MB none did: 0 mark-compacts,
 * 0.65-0.85 CPU-s per 256 MiB PATCH in every process, against 0.9-2.2 before (4 processes
 * × 4 uploads, measured). The heap still grows only as it fills.
 */
export const NODE_FLAGS: readonly string[] = ['--initial-old-space-size=128'];
