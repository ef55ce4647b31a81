/** Runs a CLI command module's `run` in-process and returns its exit code and what it wrote to stdout. */
export async function runCommand(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await run(argv);
    return { code, out };
  } finally {
    process.stdout.write = write;
  }
}
