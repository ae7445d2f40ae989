import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) a process has used so far (Linux). */
export function cpuSeconds(pid: number): number {
  // Fields after the command name, which may contain spaces, hence the split on ") ".
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
}

/** CPU seconds of this process (the client side of a measurement). */
export function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Bytes a process has passed through read/write syscalls so far (`rchar`, `wchar` of
 * /proc/<pid>/io): sockets and files alike, all threads. An independent upper bound on
 * what a server sent or received, whatever its code thinks it did.
 */
export function ioBytes(pid: number): { readonly read: number; readonly written: number } {
  const text = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { read: field('rchar'), written: field('wchar') };
}
