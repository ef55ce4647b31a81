/** Runs a CLI command module's `run` in-process and returns its exit code and what it wrote to stdout. */
export async function runCommand(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<{ code: number; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    // node --test's child reports its results on this same stdout as v8-serialized buffers (header 0xFF 0x0F);
    // swallowing them would drop other tests' results from the run's summary, so they pass straight through.
    if (typeof chunk !== 'string' && chunk[0] === 0xff && chunk[1] === 0x0f) {
      return (write as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }
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
