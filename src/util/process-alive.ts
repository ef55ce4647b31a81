/**
 * Whether process `pid` still runs on this machine (signal 0 probes without sending anything; EPERM means it runs
 * under another user). Used to tell a stale lock or temporary file from one a live process is writing.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
